/* tagwire browse opcua://... [NODEID] SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>
#include <tagwire/opcua.h>

#include "cli_device.h"

extern const tw_cli_command tw_cli_cmd_browse;

static void print_ref(const tw_opcua_ref *r, void *user_data)
{
    unsigned *count = user_data;
    (*count)++;
    printf("%s\t%s\t%s\t%s\n", r->node_id, r->browse_name, r->node_class, r->data_type[0] ? r->data_type : "-");
}

static int run(int argc, char **argv)
{
    uint32_t timeout = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &timeout) || !timeout)
                return tw_cli_usage_error(&tw_cli_cmd_browse, "--timeout needs milliseconds > 0");
        } else {
            return tw_cli_usage_error(&tw_cli_cmd_browse, "unknown option '%s'", argv[i]);
        }
    }
    if (argc - i < 1 || argc - i > 2) return tw_cli_usage_error(&tw_cli_cmd_browse, "needs a URI and at most one NodeId");
    const char *uri = argv[i];
    const char *node = argc - i == 2 ? argv[i + 1] : NULL;
    unsigned count = 0;
    tw_status st = tw_opcua_browse(uri, node, timeout, print_ref, &count);
    if (st != TW_OK) return tw_cli_fail("browse", st, tw_last_error());
    fflush(stdout);
    return TW_EXIT_OK;
}

const tw_cli_command tw_cli_cmd_browse = {
    "browse", "list the children of an OPC UA node (NodeId, browse name, class, data type)",
    "tagwire browse [--timeout MS] opcua://HOST[:PORT][/path][?security=...] [NODEID]\n\n"
    "Lists the children of NODEID (default: the Objects folder, i=85) over hierarchical references,\n"
    "one line each: NODEID, BROWSE-NAME (ns:name), NODE-CLASS, DATA-TYPE (variables; '-' otherwise),\n"
    "tab-separated. A NodeId printed here is usable as an item address (prefix type=T; to choose the\n"
    "tagwire type, e.g. type=INT32;ns=2;s=Counter). The URI takes the same parameters as for reads\n"
    "(security, policy, cert, key, trust, user, password_file, ...). Without security= the\n"
    "connection signs and encrypts (cert=, key= and trust= are required); plaintext needs an\n"
    "explicit security=none. insecure_trust_any=1 accepts any server certificate (tests only).\n",
    run};
