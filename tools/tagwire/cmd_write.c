/* tagwire write URI ADDRESS VALUE. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_device.h"

extern const tw_cli_command tw_cli_cmd_write;

/* Parses text into a value of the item's type. */
static int parse_value(tw_type type, const char *s, tw_value *v)
{
    char *end;
    v->type = type;
    errno = 0;
    switch (type) {
    case TW_TYPE_BOOL:
        if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on")) v->as.b = 1;
        else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "off")) v->as.b = 0;
        else return -1;
        return 0;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
        v->as.i = strtoll(s, &end, 0);
        return (*s && !*end && errno == 0) ? 0 : -1;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        if (*s == '-') return -1;
        v->as.u = strtoull(s, &end, 0);
        return (*s && !*end && errno == 0) ? 0 : -1;
    case TW_TYPE_FLOAT:
    case TW_TYPE_DOUBLE: {
        double d = strtod(s, &end);
        if (!*s || *end || errno) return -1;
        v->type = TW_TYPE_DOUBLE; /* the adapter range-checks against FLOAT32 */
        v->as.d = d;
        return 0;
    }
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES:
        v->as.buf.ptr = s;
        v->as.buf.len = strlen(s);
        return 0;
    default: return -1;
    }
}

static int run(int argc, char **argv)
{
    uint32_t timeout = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &timeout) || !timeout)
                return tw_cli_usage_error(&tw_cli_cmd_write, "--timeout needs milliseconds > 0");
        } else {
            return tw_cli_usage_error(&tw_cli_cmd_write, "unknown option '%s'", argv[i]);
        }
    }
    if (argc - i != 3) return tw_cli_usage_error(&tw_cli_cmd_write, "needs URI ADDRESS VALUE");
    tw_device *d = NULL;
    uint32_t id;
    int rc = tw_cli_open_device(&tw_cli_cmd_write, &d, argv[i], timeout, argv + i + 1, 1, &id);
    if (rc != TW_EXIT_OK) return rc;
    tw_value v;
    tw_type type = tw_device_item_type(d, id);
    if (parse_value(type, argv[i + 2], &v)) {
        tw_device_free(d);
        return tw_cli_usage_error(&tw_cli_cmd_write, "'%s' is not a valid %s value", argv[i + 2], tw_cli_type_name(type));
    }
    tw_status st = tw_device_write(d, id, &v);
    if (st != TW_OK) {
        rc = tw_cli_fail("write", st, tw_device_last_error(d));
    } else {
        /* read back and print what the device now holds */
        tw_sample s;
        st = tw_device_read(d, &id, 1, &s);
        tw_cli_print_sample(argv[i + 1], &s);
        if (st != TW_OK) rc = tw_cli_fail("read back", st, tw_device_last_error(d));
    }
    tw_device_free(d);
    return rc;
}

const tw_cli_command tw_cli_cmd_write = {
    "write", "write one item of a device",
    "tagwire write [--timeout MS] URI ADDRESS VALUE\n\n"
    "Writes VALUE (parsed as the item's type: true/false/1/0 for BOOL, decimal or 0x hex integers,\n"
    "floating point, or text for STRING[n]), then reads the item back and prints it like `read`.\n"
    "Modbus: FC 5 (coil) / FC 6 (one register) / FC 16 (several); ?single_write=0 forces FC 15/16.\n"
    "Example: tagwire write 'modbus+tcp://10.0.0.5?unit=1' holding-register:40010:FLOAT32:CDAB 21.5",
    run};
