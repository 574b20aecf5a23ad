/* Helpers shared by the device commands (read, write, poll); defined in cmd_read.c. */
#ifndef TW_CLI_DEVICE_H
#define TW_CLI_DEVICE_H

#include <tagwire/adapter.h>

#include "cli.h"

/* "good", "bad-comm-failure", ... (the CLI's own table: public API only). */
const char *tw_cli_quality_name(tw_quality q);
const char *tw_cli_type_name(tw_type t);
/* Formats a value into buf ("42", "1.5", "true", "\"text\"", "-" for none). */
void tw_cli_format_value(const tw_value *v, char *buf, size_t len);
/* ISO 8601 UTC with milliseconds. */
void tw_cli_format_time(int64_t ns, char *buf, size_t len);
/* Prints one sample line: ADDRESS VALUE TYPE QUALITY TIMESTAMP. */
void tw_cli_print_sample(const char *address, const tw_sample *s);
/* Opens a device and adds the items; prints the error and returns an exit code on failure. */
int tw_cli_open_device(const tw_cli_command *cmd, tw_device **dev, const char *uri, uint32_t timeout_ms,
                       char **addresses, int naddr, uint32_t *ids);
/* Parses "--timeout MS" style unsigned options; returns 0 on success. */
int tw_cli_parse_u32(const char *s, uint32_t *out);

#endif
