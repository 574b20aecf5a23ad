#include "cli.h"

extern const tw_cli_command tw_cli_cmd_version;

static int run(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) return tw_cli_usage_error(&tw_cli_cmd_version, "takes no arguments");
    printf("tagwire %s (library), %s (headers)\n", tw_version_string(), TW_VERSION_STRING);
    return tw_version() == TW_VERSION_NUM ? TW_EXIT_OK : TW_EXIT_ENV;
}

const tw_cli_command tw_cli_cmd_version = {
    "version", "print the library version",
    "tagwire version\n\nPrints the version of the loaded library and of the headers the tool was "
    "built with;\nexits 3 when they differ.",
    run};
