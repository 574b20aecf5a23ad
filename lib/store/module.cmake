# store: store-and-forward log (memory ring and disk segments), durable small state, CRC32C.
tw_module(store SOURCES crc32c.c store.c DEFINES TW_HAVE_STORE)
