/* tagwire sparkplug-decode: prints a Sparkplug B payload as text or JSON.
 * SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tagwire/sparkplug.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_sparkplug_decode;

#define MAX_INPUT (256u * 1024u * 1024u) /* the MQTT maximum payload */

static int read_all(FILE *f, unsigned char **out, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return -1;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_INPUT + 1u) break;
            cap *= 2;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    if (ferror(f) || len > MAX_INPUT) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Hex text (whitespace ignored, optional 0x prefix) to bytes, in place. -1 if not hex. */
static int unhex(unsigned char *buf, size_t *len)
{
    size_t o = 0, i = 0, n = *len;
    int hi = -1;
    if (n >= 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) i = 2;
    for (; i < n; i++) {
        int c = buf[i], v;
        if (isspace(c)) continue;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return -1;
        if (hi < 0) {
            hi = v;
        } else {
            buf[o++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) return -1;
    *len = o;
    return 0;
}

static int run(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, hex = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--hex")) hex = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return tw_cli_usage_error(&tw_cli_cmd_sparkplug_decode, "unknown option '%s'", argv[i]);
        else if (path)
            return tw_cli_usage_error(&tw_cli_cmd_sparkplug_decode, "more than one input given");
        else path = argv[i];
    }
    FILE *f = stdin;
    if (path && strcmp(path, "-")) {
        f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "tagwire: sparkplug-decode: %s: %s\n", path, strerror(errno));
            return TW_EXIT_ENV;
        }
    }
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = read_all(f, &data, &len);
    if (f != stdin) fclose(f);
    if (rc) {
        fprintf(stderr, "tagwire: sparkplug-decode: cannot read %s (or larger than 256 MiB)\n",
                path ? path : "standard input");
        return TW_EXIT_ENV;
    }
    if (hex && unhex(data, &len)) {
        free(data);
        return tw_cli_fail("sparkplug-decode", TW_ERR_PARSE, "--hex: input is not hexadecimal");
    }
    tw_sp_payload *p = NULL;
    char why[256];
    tw_status st = tw_sp_payload_decode(&p, data, len, why, sizeof(why));
    free(data);
    if (st != TW_OK) return tw_cli_fail("sparkplug-decode", st, why);
    char *out = NULL;
    size_t out_len = 0;
    st = tw_sp_payload_format(&out, &out_len, p, json ? TW_SP_FORMAT_JSON : TW_SP_FORMAT_TEXT);
    tw_sp_payload_free(p);
    if (st != TW_OK) return tw_cli_fail("sparkplug-decode", st, NULL);
    fwrite(out, 1, out_len, stdout);
    if (json) fputc('\n', stdout);
    tw_free(out);
    return TW_EXIT_OK;
}

const tw_cli_command tw_cli_cmd_sparkplug_decode = {
    "sparkplug-decode", "print a Sparkplug B payload as text or JSON",
    "tagwire sparkplug-decode [FILE|-] [--json] [--hex]\n\n"
    "Decodes a Sparkplug B payload (protobuf bytes) from FILE or standard input and prints\n"
    "it: one metric a line, or one JSON object with --json. --hex reads the payload as\n"
    "hexadecimal text (as `mosquitto_sub -F %x` prints it).\n"
    "Exits 1 with the status name and reason when the payload is malformed.",
    run};
