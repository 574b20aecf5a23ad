# enroll: device identity, keys and CSR, EST client (RFC 7030) over libcurl, credential store,
# renewal.
tw_module(enroll
  SOURCES identity.c pkcs7.c keys.c store.c est.c
  LIBS PkgConfig::MBEDTLS PkgConfig::CURL
  DEFINES TW_HAVE_EST
  PKG_REQUIRES "libcurl mbedtls mbedx509 mbedcrypto")
