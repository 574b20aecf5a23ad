/* tagwire - command-line tool over the tagwire library. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cli_commands.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: tagwire [--verbose] COMMAND [ARGS...]\n"
            "       tagwire COMMAND --help\n\n"
            "Commands:\n");
    for (int i = 0; tw_cli_commands[i]; i++)
        fprintf(out, "  %-18s %s\n", tw_cli_commands[i]->name, tw_cli_commands[i]->summary);
    fprintf(out,
            "\nOptions:\n"
            "  -v, --verbose      log library messages at debug level to stderr\n"
            "  -h, --help         this help\n"
            "\nExit status:\n"
            "  0  success\n"
            "  1  the operation failed (the status name and reason are printed)\n"
            "  2  usage error\n"
            "  3  environment error (library could not be initialised, file unreadable)\n");
}

int main(int argc, char **argv)
{
    tw_log_level level = TW_LOG_WARN;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            level = TW_LOG_DEBUG;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_help(stdout);
            return TW_EXIT_OK;
        } else {
            fprintf(stderr, "tagwire: unknown option '%s'\n", argv[i]);
            print_help(stderr);
            return TW_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return TW_EXIT_USAGE;
    }
    const tw_cli_command *cmd = NULL;
    for (int k = 0; tw_cli_commands[k]; k++)
        if (!strcmp(tw_cli_commands[k]->name, argv[i])) cmd = tw_cli_commands[k];
    if (!cmd) {
        fprintf(stderr, "tagwire: unknown command '%s'\n", argv[i]);
        print_help(stderr);
        return TW_EXIT_USAGE;
    }
    if (tw_cli_wants_help(argc - i, argv + i)) {
        printf("usage: %s\n", cmd->usage);
        return TW_EXIT_OK;
    }
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.log_level = level;
    tw_status st = tw_init(&p);
    if (st != TW_OK) {
        fprintf(stderr, "tagwire: tw_init: %s\n", tw_strerror(st));
        return TW_EXIT_ENV;
    }
    int rc = cmd->run(argc - i, argv + i);
    tw_shutdown();
    return rc;
}
