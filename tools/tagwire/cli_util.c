#include <stdarg.h>
#include <string.h>

#include "cli.h"

int tw_cli_fail(const char *what, tw_status st, const char *reason)
{
    fprintf(stderr, "tagwire: %s: %s: %s\n", what, tw_status_name(st),
            reason && *reason ? reason : tw_strerror(st));
    return TW_EXIT_FAILURE;
}

int tw_cli_usage_error(const tw_cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tagwire %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tagwire %s --help'.\n", cmd->name);
    return TW_EXIT_USAGE;
}

int tw_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}
