#include <string.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_features;

static int run(int argc, char **argv)
{
    int raw = argc > 1 && !strcmp(argv[1], "--raw");
    if (argc > 2 || (argc == 2 && !raw))
        return tw_cli_usage_error(&tw_cli_cmd_features, "unexpected argument '%s'", argv[1]);
    uint32_t f = tw_features();
    if (raw) {
        printf("0x%08x\n", (unsigned)f);
        return TW_EXIT_OK;
    }
    for (uint32_t bit = 1; bit; bit <<= 1) {
        const char *name = tw_feature_name(bit);
        if (name) printf("%-10s %s\n", name, (f & bit) ? "yes" : "no");
    }
    return TW_EXIT_OK;
}

const tw_cli_command tw_cli_cmd_features = {
    "features", "list the optional parts built into the library",
    "tagwire features [--raw]\n\nLists each optional part and whether it is built in;\n"
    "--raw prints the tw_features() bit mask.",
    run};
