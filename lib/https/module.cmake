# https: HTTPS batch uplink draining a store (libcurl multi, mutual TLS, JSON lines / Sparkplug B
# protobuf bodies, gzip via zlib), and the store record entry format it reads.
tw_module(https
  SOURCES record.c body.c uplink.c
  LIBS PkgConfig::CURL z
  DEFINES TW_HAVE_HTTPS
  PKG_REQUIRES "libcurl zlib")
