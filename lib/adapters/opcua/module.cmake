# adapters/opcua: OPC UA client adapter (opcua://) and browse helper on open62541 1.4 (Debian 13's
# libopen62541-1.4-dev, built against mbedTLS 3.6: encryption and subscriptions enabled).
# Without open62541 only the NodeId parser and a tw_opcua_browse() stub (TW_ERR_UNSUPPORTED) are built,
# so that the public ABI is the same in every build.
if(OPEN62541_FOUND AND MBEDTLS_FOUND)
  tw_module(adapter_opcua SOURCES opcua.c opcua_address.c opcua_conf.c opcua_browse.c
            LIBS PkgConfig::OPEN62541 PkgConfig::MBEDTLS DEFINES TW_HAVE_OPCUA PKG_REQUIRES open62541)
else()
  message(STATUS "open62541 1.4 not found: the OPC UA adapter is not built")
  tw_module(adapter_opcua SOURCES opcua_address.c opcua_stub.c)
endif()
