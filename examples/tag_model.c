/*
 * tag_model: the tag data model in a screenful.
 *
 * Creates a tag set with three tags (units, deadband, scaling), feeds them from a simulated
 * control loop, and prints the change set after each "publish cycle": only values that moved
 * beyond their deadband (or changed quality) appear, each once, with the latest passing value.
 *
 * Build: part of the tagwire build (example_tag_model). Runs in well under a second.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <tagwire/tagwire.h>

static void print_changes(tw_tagset *ts, int cycle)
{
    tw_tag_change ch[8];
    size_t n;
    int more;
    do {
        if (tw_tagset_collect(ts, ch, 8, &n, &more) != TW_OK) return;
        printf("cycle %d: %zu change(s)\n", cycle, n);
        for (size_t i = 0; i < n; i++) {
            const tw_tag_change *c = &ch[i];
            printf("  %-26s alias %-2llu ", tw_tag_name(c->tag), (unsigned long long)tw_tag_alias(c->tag));
            switch (c->value.type) {
            case TW_TYPE_DOUBLE: printf("%8.2f %-5s", c->value.as.d, tw_tag_unit(c->tag)); break;
            case TW_TYPE_UINT64: printf("%8llu %-5s", (unsigned long long)c->value.as.u, tw_tag_unit(c->tag)); break;
            case TW_TYPE_STRING: printf("%8.*s %-5s", (int)c->value.as.buf.len, (const char *)c->value.as.buf.ptr, ""); break;
            default: printf("%8s %-5s", "?", ""); break;
            }
            printf(" quality %-17s (sparkplug %d)", tw_quality_name(c->quality), tw_quality_to_sparkplug(c->quality));
            if (c->coalesced) printf(", %u earlier update(s) coalesced", c->coalesced);
            printf("\n");
        }
    } while (more);
}

int main(void)
{
    if (tw_init(NULL) != TW_OK) return 1;
    tw_tagset *ts;
    tw_tag *oil, *strokes, *state;
    tw_status st = tw_tagset_new(&ts);
    if (st != TW_OK) {
        fprintf(stderr, "tw_tagset_new: %s\n", tw_strerror(st));
        return 1;
    }
    /* Oil temperature from a raw 0..4000 ADC count: 0.05 degC per count, -20 degC offset;
     * reported only when it moves by more than 0.5 degC. */
    st = tw_tagset_add(ts, &oil, "Press7/Hydraulics/OilTemp", TW_TYPE_DOUBLE,
                       &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .unit = "degC", .min = -20, .max = 180,
                                         .scale = 0.05, .offset = -20, .deadband = 0.5});
    if (st == TW_OK)
        st = tw_tagset_add(ts, &strokes, "Press7/Counters/Strokes", TW_TYPE_UINT64,
                           &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .unit = "pcs", .deadband = 5});
    if (st == TW_OK) st = tw_tagset_add(ts, &state, "Press7/State", TW_TYPE_STRING, NULL);
    if (st != TW_OK) {
        fprintf(stderr, "tw_tagset_add: %s\n", tw_tagset_last_error(ts));
        tw_tagset_free(ts);
        tw_shutdown();
        return 1;
    }

    uint64_t count = 0;
    for (int cycle = 1; cycle <= 4; cycle++) {
        /* the control loop: 10 samples per publish cycle */
        for (int i = 0; i < 10; i++) {
            int64_t raw = 1200 + (cycle * 10 + i) % 7; /* ~40 degC with +-0.3 degC of noise */
            if (cycle == 3) raw += 40;                 /* a real +2 degC step */
            tw_tag_set_raw_int64(oil, raw, TW_QUALITY_GOOD, 0);
            tw_tag_set_uint64(strokes, ++count, TW_QUALITY_GOOD, 0);
            tw_tag_set_string(state, cycle < 4 ? "RUNNING" : "STOPPED", TW_QUALITY_GOOD, 0);
        }
        if (cycle == 2) tw_tag_set_quality(oil, TW_QUALITY_BAD_COMM_FAILURE, 0); /* sensor lost */
        print_changes(ts, cycle);
    }
    tw_tagset_free(ts);
    tw_shutdown();
    return 0;
}
