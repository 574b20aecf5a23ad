/* An out-of-tree program that uses the installed library. */
#include <stdio.h>
#include <tagwire/tagwire.h>

int main(void)
{
    if (tw_init(NULL) != TW_OK) return 1;
    if (tw_version() != TW_VERSION_NUM) {
        fprintf(stderr, "header/library version mismatch\n");
        return 1;
    }
    printf("tagwire %s features 0x%x\n", tw_version_string(), (unsigned)tw_features());
    tw_shutdown();
    return 0;
}
