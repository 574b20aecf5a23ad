/* Writes a store for the store-inspect test: 300 records, the first 120 acknowledged, one drop
 * refused, and the last record torn (truncated by 7 bytes). usage: make_store DIR */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "tagwire/store.h"

int main(int argc, char **argv)
{
    if (argc != 2 || tw_init(NULL) != TW_OK) return 2;
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = argv[1];
    o.sync = TW_STORE_SYNC_OS;
    o.segment_bytes = 4096;
    tw_store *s;
    if (tw_store_new(&s, &o) != TW_OK) return 1;
    for (int i = 1; i <= 300; i++) {
        char b[64];
        int n = snprintf(b, sizeof b, "{\"tag\":\"T%d\",\"v\":%d}", i, i * 3);
        if (tw_store_append(s, NULL, b, (size_t)n) != TW_OK) return 1;
    }
    if (tw_store_ack(s, 120) != TW_OK) return 1;
    tw_store_free(s);
    /* tear the newest record: cut 7 bytes off the last segment */
    DIR *d = opendir(argv[1]);
    struct dirent *e;
    char last[300] = "";
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "seg-", 4) && strcmp(e->d_name, last) > 0) snprintf(last, sizeof last, "%s", e->d_name);
    if (d) closedir(d);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", argv[1], last);
    struct stat sb;
    if (!last[0] || stat(path, &sb) != 0 || truncate(path, sb.st_size - 7) != 0) return 1;
    tw_shutdown();
    return 0;
}
