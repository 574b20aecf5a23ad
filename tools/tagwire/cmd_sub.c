/* tagwire sub: subscribes to Sparkplug topics and prints the decoded messages as they arrive, or
 * keeps a live table of every metric (name, value, unit, quality, age).
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tagwire/mqtt.h>
#include <tagwire/sparkplug.h>
#include <tagwire/tls.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_sub;

#define MAX_TOPICS 32

/* ---- the live table ------------------------------------------------------------------------- */

typedef struct row {
    char *owner;     /* "group/node" or "group/node/device" */
    char *name;
    char *unit;
    uint64_t alias;
    int has_alias;
    char value[96];
    tw_quality quality;
    int stale;       /* owner died */
    int64_t ts_ms;
} row;

typedef struct sub_ctx {
    int table, json;
    long count;      /* messages to receive; 0 = unlimited */
    long received;
    row *rows;
    size_t nrows, cap;
    int dirty;
    int tty;
    int64_t interval_ms; /* --interval: a snapshot of the table this often (0 = see run()) */
} sub_ctx;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static int64_t now_ms(void) { return tw_now_ns() / 1000000; }

static void fmt_value(char *buf, size_t cap, const tw_sp_decoded_metric *m)
{
    const tw_value *v = &m->metric.value;
    if ((m->metric.flags & TW_SP_METRIC_NULL) || v->type == TW_TYPE_NONE) {
        snprintf(buf, cap, "null");
        return;
    }
    switch (v->type) {
    case TW_TYPE_BOOL: snprintf(buf, cap, "%s", v->as.b ? "true" : "false"); break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
        snprintf(buf, cap, "%" PRId64, v->as.i);
        break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        snprintf(buf, cap, "%" PRIu64, v->as.u);
        break;
    case TW_TYPE_FLOAT: snprintf(buf, cap, "%.7g", (double)v->as.f); break;
    case TW_TYPE_DOUBLE: snprintf(buf, cap, "%.10g", v->as.d); break;
    case TW_TYPE_DATETIME: snprintf(buf, cap, "%" PRId64 " ms", v->as.i / 1000000); break;
    case TW_TYPE_STRING:
        snprintf(buf, cap, "%.*s", (int)(v->as.buf.len > 80 ? 80 : v->as.buf.len),
                 (const char *)v->as.buf.ptr);
        break;
    case TW_TYPE_BYTES: snprintf(buf, cap, "<%zu bytes>", v->as.buf.len); break;
    default: snprintf(buf, cap, "?"); break;
    }
}

static row *row_find(sub_ctx *c, const char *owner, const char *name, int has_alias, uint64_t alias)
{
    for (size_t i = 0; i < c->nrows; i++) {
        row *r = &c->rows[i];
        if (strcmp(r->owner, owner)) continue;
        if (name && !strcmp(r->name, name)) return r;
        if (!name && has_alias && r->has_alias && r->alias == alias) return r;
    }
    return NULL;
}

static row *row_add(sub_ctx *c, const char *owner, const char *name)
{
    if (c->nrows == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        row *nr = realloc(c->rows, nc * sizeof *nr);
        if (!nr) return NULL;
        c->rows = nr;
        c->cap = nc;
    }
    row *r = &c->rows[c->nrows];
    memset(r, 0, sizeof *r);
    r->owner = strdup(owner);
    r->name = strdup(name);
    r->unit = strdup("");
    if (!r->owner || !r->name || !r->unit) {
        free(r->owner);
        free(r->name);
        free(r->unit);
        return NULL;
    }
    c->nrows++;
    return r;
}

static void table_update(sub_ctx *c, const tw_sp_topic *t, const tw_sp_payload *p)
{
    char owner[512];
    if (t->device_id_len)
        snprintf(owner, sizeof owner, "%.*s/%.*s/%.*s", (int)t->group_id_len, t->group_id,
                 (int)t->edge_node_id_len, t->edge_node_id, (int)t->device_id_len, t->device_id);
    else
        snprintf(owner, sizeof owner, "%.*s/%.*s", (int)t->group_id_len, t->group_id,
                 (int)t->edge_node_id_len, t->edge_node_id);
    size_t olen = strlen(owner);
    int birth = t->type == TW_SP_MSG_NBIRTH || t->type == TW_SP_MSG_DBIRTH;
    int death = t->type == TW_SP_MSG_NDEATH || t->type == TW_SP_MSG_DDEATH;
    if (death) {
        /* a node's death makes its devices' metrics stale too */
        for (size_t i = 0; i < c->nrows; i++)
            if (!strncmp(c->rows[i].owner, owner, olen) &&
                (c->rows[i].owner[olen] == '\0' || c->rows[i].owner[olen] == '/'))
                c->rows[i].stale = 1;
        c->dirty = 1;
        return;
    }
    if (!birth && t->type != TW_SP_MSG_NDATA && t->type != TW_SP_MSG_DDATA) return;
    for (size_t i = 0; p && i < p->metric_count; i++) {
        const tw_sp_decoded_metric *m = &p->metrics[i];
        const char *name = (m->present & TW_SP_HAS_NAME) ? m->metric.name : NULL;
        int has_alias = (m->present & TW_SP_HAS_ALIAS) != 0;
        row *r = row_find(c, owner, name, has_alias, m->metric.alias);
        if (!r && birth && name) r = row_add(c, owner, name);
        if (!r) continue; /* data for a metric whose birth we did not see */
        if (birth) {
            r->has_alias = has_alias;
            r->alias = m->metric.alias;
            free(r->unit);
            r->unit = strdup(m->metric.unit ? m->metric.unit : "");
            if (!r->unit) r->unit = strdup("");
            if (!r->unit) continue;
        }
        fmt_value(r->value, sizeof r->value, m);
        r->quality = m->metric.quality;
        r->stale = 0;
        r->ts_ms = (m->present & TW_SP_HAS_TIMESTAMP) ? m->metric.ts_ms
                   : (p->present & TW_SP_HAS_TIMESTAMP) ? (int64_t)p->timestamp_ms : now_ms();
    }
    c->dirty = 1;
}

static void table_print(sub_ctx *c)
{
    if (c->tty) {
        fputs("\033[H\033[2J", stdout);
    } else { /* a snapshot in a log: when it was taken */
        time_t t = time(NULL);
        struct tm tm;
        char when[32] = "";
        if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("# %s  %zu metric%s\n", when, c->nrows, c->nrows == 1 ? "" : "s");
    }
    size_t wn = 4, wo = 5, wv = 5, wu = 4;
    for (size_t i = 0; i < c->nrows; i++) {
        row *r = &c->rows[i];
        if (strlen(r->owner) > wo) wo = strlen(r->owner);
        if (strlen(r->name) > wn) wn = strlen(r->name);
        if (strlen(r->value) > wv) wv = strlen(r->value);
        if (strlen(r->unit) > wu) wu = strlen(r->unit);
    }
    printf("%-*s  %-*s  %*s  %-*s  %-8s  %s\n", (int)wo, "SOURCE", (int)wn, "TAG", (int)wv, "VALUE",
           (int)wu, "UNIT", "QUALITY", "AGE");
    int64_t now = now_ms();
    for (size_t i = 0; i < c->nrows; i++) {
        row *r = &c->rows[i];
        const char *q = r->stale ? "stale" : TW_QUALITY_IS_GOOD(r->quality) ? "good"
                                          : TW_QUALITY_IS_BAD(r->quality)  ? "bad"
                                                                          : "uncertain";
        double age = r->ts_ms ? (double)(now - r->ts_ms) / 1000.0 : 0.0;
        printf("%-*s  %-*s  %*s  %-*s  %-8s  %.1fs\n", (int)wo, r->owner, (int)wn, r->name,
               (int)wv, r->value, (int)wu, r->unit, q, age < 0 ? 0.0 : age);
    }
    if (!c->tty) puts("");
    fflush(stdout);
    c->dirty = 0;
}

/* ---- messages -------------------------------------------------------------------------------- */

static void on_message(tw_mqtt_client *cl, const tw_mqtt_message *m, void *ud)
{
    sub_ctx *c = ud;
    (void)cl;
    c->received++;
    tw_sp_topic t;
    int is_sp = tw_sp_topic_parse(&t, m->topic, m->topic_len) == TW_OK;
    if (is_sp && t.type == TW_SP_MSG_STATE) {
        if (!c->table)
            printf("%s%s\n  %.*s\n", m->topic, m->retain ? " (retained)" : "",
                   (int)m->payload_len, (const char *)m->payload);
        fflush(stdout);
        return;
    }
    tw_sp_payload *p = NULL;
    char why[160] = "";
    tw_status st = is_sp ? tw_sp_payload_decode(&p, m->payload, m->payload_len, why, sizeof why)
                         : TW_ERR_SPARKPLUG_TOPIC;
    if (c->table) {
        if (st == TW_OK) table_update(c, &t, p);
        tw_sp_payload_free(p);
        return;
    }
    if (st != TW_OK) {
        printf("%s%s\n  (%zu bytes: %s)\n", m->topic, m->retain ? " (retained)" : "",
               m->payload_len, is_sp ? why : "not a Sparkplug topic");
        fflush(stdout);
        return;
    }
    char *txt = NULL;
    size_t len = 0;
    st = tw_sp_payload_format(&txt, &len, p, c->json ? TW_SP_FORMAT_JSON : TW_SP_FORMAT_TEXT);
    if (st == TW_OK) {
        if (c->json) {
            printf("{\"topic\":\"%s\",\"payload\":%.*s}\n", m->topic, (int)len, txt);
        } else {
            printf("%s%s\n", m->topic, m->retain ? " (retained)" : "");
            /* indent every line */
            const char *s = txt;
            while (*s) {
                const char *nl = strchr(s, '\n');
                size_t n = nl ? (size_t)(nl - s) : strlen(s);
                printf("  %.*s\n", (int)n, s);
                s += n + (nl ? 1 : 0);
            }
        }
    }
    tw_free(txt);
    tw_sp_payload_free(p);
    fflush(stdout);
}

static int parse_broker(const char *url, char *host, size_t cap, uint16_t *port, int *tls)
{
    const char *rest;
    if (!strncmp(url, "mqtts://", 8)) {
        *tls = 1;
        rest = url + 8;
    } else if (!strncmp(url, "mqtt://", 7)) {
        *tls = 0;
        rest = url + 7;
    } else {
        return -1;
    }
    *port = *tls ? 8883 : 1883;
    const char *colon = NULL;
    if (rest[0] == '[') { /* [v6]:port */
        const char *e = strchr(rest, ']');
        if (!e) return -1;
        if ((size_t)(e - rest - 1) >= cap) return -1;
        memcpy(host, rest + 1, (size_t)(e - rest - 1));
        host[e - rest - 1] = '\0';
        colon = e[1] == ':' ? e + 1 : NULL;
        if (e[1] && !colon) return -1;
    } else {
        colon = strrchr(rest, ':');
        size_t hl = colon ? (size_t)(colon - rest) : strlen(rest);
        if (!hl || hl >= cap) return -1;
        memcpy(host, rest, hl);
        host[hl] = '\0';
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 65535) return -1;
        *port = (uint16_t)p;
    }
    return 0;
}

static int run(int argc, char **argv)
{
    const char *broker = NULL, *ca = NULL, *cert = NULL, *key = NULL, *pass = NULL;
    const char *client_id = NULL, *topics[MAX_TOPICS];
    int ntopics = 0, insecure = 0;
    sub_ctx c;
    memset(&c, 0, sizeof c);
    double seconds = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--broker") && more) broker = argv[++i];
        else if (!strcmp(a, "--ca") && more) ca = argv[++i];
        else if (!strcmp(a, "--cert") && more) cert = argv[++i];
        else if (!strcmp(a, "--key") && more) key = argv[++i];
        else if (!strcmp(a, "--key-password") && more) pass = argv[++i];
        else if (!strcmp(a, "--client-id") && more) client_id = argv[++i];
        else if (!strcmp(a, "--insecure")) insecure = 1;
        else if (!strcmp(a, "--table")) c.table = 1;
        else if (!strcmp(a, "--json")) c.json = 1;
        else if (!strcmp(a, "--count") && more) {
            char *end;
            c.count = strtol(argv[++i], &end, 10);
            if (*end || c.count <= 0) return tw_cli_usage_error(&tw_cli_cmd_sub, "bad --count");
        } else if (!strcmp(a, "--interval") && more) {
            char *end;
            double iv = strtod(argv[++i], &end);
            if (*end || !(iv >= 0.1) || iv > 86400)
                return tw_cli_usage_error(&tw_cli_cmd_sub, "bad --interval (seconds, 0.1 .. 86400)");
            c.interval_ms = (int64_t)(iv * 1000.0 + 0.5);
        } else if (!strcmp(a, "--seconds") && more) {
            char *end;
            seconds = strtod(argv[++i], &end);
            if (*end || !(seconds > 0) || seconds > 31536000)
                return tw_cli_usage_error(&tw_cli_cmd_sub, "bad --seconds");
        } else if (a[0] == '-') {
            return tw_cli_usage_error(&tw_cli_cmd_sub, "unknown or incomplete option '%s'", a);
        } else {
            if (ntopics == MAX_TOPICS) return tw_cli_usage_error(&tw_cli_cmd_sub, "at most %d topics", MAX_TOPICS);
            if (tw_mqtt_filter_check(a) != TW_OK)
                return tw_cli_usage_error(&tw_cli_cmd_sub, "invalid topic filter '%s'", a);
            topics[ntopics++] = a;
        }
    }
    if (!ntopics) topics[ntopics++] = "spBv1.0/#";
    char host[256];
    uint16_t port;
    int tls;
    if (!broker || parse_broker(broker, host, sizeof host, &port, &tls) != 0)
        return tw_cli_usage_error(&tw_cli_cmd_sub, "--broker mqtts://HOST[:PORT] (or mqtt:// with --insecure) is required");
    if (!tls && !insecure)
        return tw_cli_usage_error(&tw_cli_cmd_sub, "mqtt:// is plaintext: add --insecure to allow it");
    if (tls && !ca) return tw_cli_usage_error(&tw_cli_cmd_sub, "--ca is required for mqtts://");
    if (!cert != !key) return tw_cli_usage_error(&tw_cli_cmd_sub, "--cert and --key go together");
    if (c.json && c.table) return tw_cli_usage_error(&tw_cli_cmd_sub, "--json and --table exclude each other");
    if (c.interval_ms && !c.table) return tw_cli_usage_error(&tw_cli_cmd_sub, "--interval goes with --table");
    c.tty = isatty(STDOUT_FILENO);
    /* a terminal redraws as data arrives (at most 5 times a second, at least once a second for
     * the ages); elsewhere (a pipe, a log) a snapshot is printed every --interval seconds, and once
     * at the end */
    int64_t draw_every = c.interval_ms ? c.interval_ms : c.tty ? 1000 : 0;

    tw_tls_config *cfg = NULL;
    tw_transport *tr = NULL;
    tw_mqtt_client *cl = NULL;
    int rc = TW_EXIT_OK;
    tw_status st;
    if (tls) {
        if ((st = tw_tls_config_new(&cfg))) return tw_cli_fail("tls config", st, tw_last_error());
        if ((st = tw_tls_config_set_ca_file(cfg, ca))) {
            rc = tw_cli_fail("--ca", st, tw_tls_config_last_error(cfg));
            goto out;
        }
        if (cert && (st = tw_tls_config_set_credentials_file(cfg, cert, key, pass))) {
            rc = tw_cli_fail("--cert/--key", st, tw_tls_config_last_error(cfg));
            goto out;
        }
        st = tw_transport_new_tls(&tr, cfg, NULL);
    } else {
        fprintf(stderr, "tagwire sub: WARNING: plaintext MQTT (--insecure)\n");
        st = tw_transport_new_tcp_insecure(&tr, NULL);
    }
    if (st) {
        rc = tw_cli_fail("transport", st, tw_last_error());
        goto out;
    }
    char cid[64];
    if (!client_id) {
        snprintf(cid, sizeof cid, "tagwire-sub-%ld", (long)getpid());
        client_id = cid;
    }
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = host;
    o.port = port;
    o.client_id = client_id;
    o.reconnect = TW_MQTT_RECONNECT_OFF;
    o.max_packet_size = 16u << 20;
    if ((st = tw_mqtt_client_new(&cl, tr, &o))) {
        tw_transport_free(tr);
        rc = tw_cli_fail("mqtt client", st, tw_last_error());
        goto out;
    }
    tw_mqtt_client_set_message_cb(cl, on_message, &c);
    if ((st = tw_mqtt_client_connect_blocking(cl, -1))) {
        char what[300];
        snprintf(what, sizeof what, "sub %s:%u", host, (unsigned)port);
        rc = tw_cli_fail(what, st, tw_mqtt_client_last_error(cl));
        goto out;
    }
    for (int i = 0; i < ntopics; i++)
        if ((st = tw_mqtt_client_subscribe(cl, topics[i], 1, NULL))) {
            rc = tw_cli_fail("subscribe", st, tw_mqtt_client_last_error(cl));
            goto out;
        }
    if ((st = tw_mqtt_client_flush(cl, 10000))) {
        rc = tw_cli_fail("subscribe", st, tw_mqtt_client_last_error(cl));
        goto out;
    }
    if (!c.table) fprintf(stderr, "tagwire sub: subscribed to %d filter(s) on %s:%u\n", ntopics, host, (unsigned)port);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int64_t end = seconds > 0 ? now_ms() + (int64_t)(seconds * 1000.0) : INT64_MAX;
    int64_t last_draw = 0;
    while (!g_stop && (c.count == 0 || c.received < c.count) && now_ms() < end) {
        st = tw_mqtt_client_step(cl, 100);
        if (st != TW_OK) {
            rc = tw_cli_fail("sub", st, tw_mqtt_client_last_error(cl));
            break;
        }
        if (c.table && draw_every) {
            int64_t now = now_ms();
            int due = c.tty ? ((c.dirty || now - last_draw >= draw_every) && now - last_draw >= 200)
                            : now - last_draw >= draw_every;
            if (!last_draw) { /* the first snapshot one interval after the subscription */
                last_draw = now;
                due = 0;
            }
            if (due) {
                table_print(&c);
                last_draw = now;
            }
        }
    }
    if (c.table) table_print(&c);
    tw_mqtt_client_disconnect(cl, 1000);
out:
    tw_mqtt_client_free(cl);
    tw_tls_config_free(cfg);
    for (size_t i = 0; i < c.nrows; i++) {
        free(c.rows[i].owner);
        free(c.rows[i].name);
        free(c.rows[i].unit);
    }
    free(c.rows);
    return rc;
}

const tw_cli_command tw_cli_cmd_sub = {
    "sub", "print Sparkplug messages from a broker as they arrive (or a live table)",
    "tagwire sub --broker mqtts://HOST[:PORT] --ca FILE [--cert FILE --key FILE]\n"
    "            [--key-password P] [--insecure] [--client-id ID] [--table | --json]\n"
    "            [--interval S] [--count N] [--seconds S] [TOPIC...]\n\n"
    "Subscribes (QoS 1) to the topic filters (default spBv1.0/#) over mutual TLS and prints\n"
    "every message decoded: the topic, then the payload one metric a line (--json: one JSON\n"
    "object a line). STATE messages are printed as their JSON text.\n"
    "--table keeps the name and unit of every metric from the births (aliases resolved) and\n"
    "redraws a compact table (source, tag, value, unit, quality, age) as data arrives. When\n"
    "the output is not a terminal (a pipe, a log, a script), --interval S prints a snapshot of\n"
    "the table (latest value of every metric) every S seconds (0.1 .. 86400; fractions allowed)\n"
    "and once more at the end, each headed by a line '# <UTC time>  <N> metrics'; without\n"
    "--interval only the final one is printed. On a terminal --interval sets the longest time\n"
    "between redraws.\n"
    "Metrics appear once their birth (NBIRTH/DBIRTH) was seen: a subscriber started after the\n"
    "births shows rows after the next rebirth (NCMD 'Node Control/Rebirth').\n"
    "mqtt:// (plaintext) requires --insecure. --count N stops after N messages, --seconds S\n"
    "after S seconds; otherwise it runs until interrupted. Exits 1 when the connection fails.",
    run};
