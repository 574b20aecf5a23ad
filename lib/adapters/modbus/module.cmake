# adapters/modbus: Modbus TCP, Modbus/TCP Security (mutual TLS from URI parameters, a tw_tls_config or a
# caller-supplied transport) and RTU.
tw_module(adapter_modbus SOURCES mb_codec.c mb_client.c mb_serial.c LIBS m DEFINES TW_HAVE_MODBUS)
