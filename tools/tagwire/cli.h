/* Internal interface of the tagwire CLI. */
#ifndef TW_CLI_H
#define TW_CLI_H

#include <stdio.h>
#include <tagwire/tagwire.h>

/* Exit codes of the tagwire command (documented in `tagwire --help` and README). */
enum {
    TW_EXIT_OK = 0,      /* success */
    TW_EXIT_FAILURE = 1, /* the operation failed: the library's status name and reason are printed */
    TW_EXIT_USAGE = 2,   /* bad command line */
    TW_EXIT_ENV = 3      /* environment problem: file unreadable, library not initialised, ... */
};

typedef struct tw_cli_command {
    const char *name;    /* subcommand, e.g. "version" */
    const char *summary; /* one line for `tagwire --help` */
    const char *usage;   /* full help text for `tagwire NAME --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name; returns an exit code */
} tw_cli_command;

/* Prints "tagwire: <what>: <STATUS_NAME>: <reason>" to stderr and returns TW_EXIT_FAILURE. */
int tw_cli_fail(const char *what, tw_status st, const char *reason);
/* Prints "tagwire NAME: message" + usage hint to stderr and returns TW_EXIT_USAGE. */
int tw_cli_usage_error(const tw_cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when argv contains -h or --help. */
int tw_cli_wants_help(int argc, char **argv);

#endif
