/*
 * Publishes one message with QoS 1 and waits for the broker's PUBACK, using only the public API.
 *
 *   example_mqtt_publish HOST PORT TOPIC MESSAGE
 *
 * Plain TCP for brevity (tw_transport_new_tcp_insecure logs a warning); production code creates a
 * mutual-TLS transport instead and passes it to tw_mqtt_client_new() the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tagwire/mqtt.h>

static int acked;

static void on_ack(tw_mqtt_client *c, const tw_mqtt_ack *ack, void *user_data)
{
    (void)c;
    (void)user_data;
    if (ack->type == TW_MQTT_ACK_PUBACK) {
        printf("PUBACK for token %llu: %s\n", (unsigned long long)ack->token, tw_status_name(ack->status));
        acked = ack->status == TW_OK ? 1 : -1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT TOPIC MESSAGE\n", argv[0]);
        return 2;
    }
    if (tw_init(NULL) != TW_OK) return 1;
    tw_transport *t = NULL;
    tw_mqtt_client *c = NULL;
    int rc = 1;
    if (tw_transport_new_tcp_insecure(&t, NULL) != TW_OK) goto out;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = argv[1];
    o.port = (uint16_t)atoi(argv[2]);
    o.client_id = "tagwire-example";
    if (tw_mqtt_client_new(&c, t, &o) != TW_OK) {
        tw_transport_free(t);
        goto out;
    }
    tw_mqtt_client_set_ack_cb(c, on_ack, NULL);
    tw_status st = tw_mqtt_client_connect_blocking(c, 5000);
    if (st != TW_OK) {
        fprintf(stderr, "connect: %s: %s\n", tw_status_name(st), tw_mqtt_client_last_error(c));
        goto out;
    }
    uint64_t token;
    st = tw_mqtt_client_publish(c, argv[3], argv[4], strlen(argv[4]), 1, 0, &token);
    if (st != TW_OK) {
        fprintf(stderr, "publish: %s: %s\n", tw_status_name(st), tw_mqtt_client_last_error(c));
        goto out;
    }
    /* drive the client until the PUBACK arrives (or 5 s pass) */
    for (int i = 0; i < 50 && !acked; i++) {
        st = tw_mqtt_client_step(c, 100);
        if (st != TW_OK) {
            fprintf(stderr, "%s: %s\n", tw_status_name(st), tw_mqtt_client_last_error(c));
            break;
        }
    }
    tw_mqtt_client_disconnect(c, 1000);
    rc = acked == 1 ? 0 : 1;
out:
    tw_mqtt_client_free(c);
    tw_shutdown();
    return rc;
}
