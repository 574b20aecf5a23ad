# tls: byte-stream transports. transport.c: the wrapper and plain TCP (tests only).
tw_module(tls SOURCES transport.c)
