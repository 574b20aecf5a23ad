/* Fuzz target: tag name validation and the tag set's name registry.
 * Input: one or more candidate names separated by '\n'. Every name that validates must be
 * accepted by tw_tagset_add (or be a duplicate), be found again by name and alias, and obey the
 * documented rules; every name that fails must be refused by tw_tagset_add. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tagwire/tag.h"

static void check_rules(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= TW_TAG_NAME_MAX) abort();
    if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//")) abort();
    if (!tw_utf8_valid(name, len)) abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) abort();
    }
    /* segments: bounded, not "." / "..", no outer spaces */
    const char *seg = name;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || n > TW_TAG_SEGMENT_MAX) abort();
        if (seg[0] == ' ' || seg[n - 1] == ' ') abort();
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) abort();
        if (!end) break;
        seg = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) return 0;
    static int inited;
    if (!inited) {
        tw_init_params p = TW_INIT_PARAMS_INIT;
        p.log_level = TW_LOG_ERROR;
        if (tw_init(&p) != TW_OK) abort();
        inited = 1;
    }
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    /* the whole input as one name (embedded NULs end it, as for any C string) */
    char err[96];
    tw_status st = tw_tag_name_validate(buf, err, sizeof err);
    if (st == TW_OK) check_rules(buf);
    else if (st != TW_ERR_PARSE || strlen(err) == 0 || strlen(err) >= sizeof err) abort();

    tw_tagset *ts;
    if (tw_tagset_new(&ts) != TW_OK) abort();
    size_t added = 0;
    char *save = NULL;
    for (char *name = strtok_r(buf, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        int valid = tw_tag_name_validate(name, NULL, 0) == TW_OK;
        int existed = tw_tagset_find(ts, name) != NULL;
        tw_tag *t = NULL;
        st = tw_tagset_add(ts, &t, name, TW_TYPE_DOUBLE, NULL);
        if (!valid) {
            if (st != TW_ERR_PARSE || t) abort();
            continue;
        }
        check_rules(name);
        if (existed) {
            if (st != TW_ERR_EXISTS) abort();
            continue;
        }
        if (st != TW_OK || !t) abort();
        added++;
        if (tw_tagset_find(ts, name) != t) abort();
        if (strcmp(tw_tag_name(t), name) != 0) abort();
        if (tw_tagset_find_alias(ts, tw_tag_alias(t)) != t) abort();
        if (tw_tag_set_double(t, (double)added, TW_QUALITY_GOOD, 1) != TW_OK) abort();
    }
    if (tw_tagset_count(ts) != added) abort();
    tw_tag_change ch[8];
    size_t n, total = 0;
    int more;
    do {
        if (tw_tagset_collect(ts, ch, 8, &n, &more) != TW_OK) abort();
        total += n;
    } while (more);
    if (total != added) abort();
    tw_tagset_free(ts);
    free(buf);
    return 0;
}
