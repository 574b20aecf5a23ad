# tls: byte-stream transports. transport.c: the wrapper and plain TCP (tests only); tls.c: mutual TLS
# on mbedTLS 3.6 (trust policy, pinning, credential reload, resumption).
set(_tw_tls_defines TW_HAVE_TLS)
include(CheckSymbolExists)
set(CMAKE_REQUIRED_INCLUDES ${MBEDTLS_INCLUDE_DIRS})
check_symbol_exists(MBEDTLS_SSL_PROTO_TLS1_3 "mbedtls/build_info.h" TW_MBEDTLS_HAS_TLS13)
unset(CMAKE_REQUIRED_INCLUDES)
if(TW_MBEDTLS_HAS_TLS13)
  list(APPEND _tw_tls_defines TW_HAVE_TLS13)
endif()
tw_module(tls SOURCES transport.c tls.c LIBS PkgConfig::MBEDTLS DEFINES ${_tw_tls_defines}
          PKG_REQUIRES "mbedtls mbedx509 mbedcrypto")
