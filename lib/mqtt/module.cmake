# mqtt: MQTT 3.1.1 packet codec (codec.c) and client session over a tw_transport (client.c).
tw_module(mqtt SOURCES codec.c client.c DEFINES TW_HAVE_MQTT)
