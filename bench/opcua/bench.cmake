# bench_opcua: 10,000 variables read per second through tagwire's OPC UA adapter vs open62541's own
# client API doing the same Read requests, and subscription change throughput (tagwire's push path
# vs an open62541 client subscription), in the same run, against one open62541 server (the peer).
if("TW_HAVE_OPCUA" IN_LIST TW_DEFINES)
  add_executable(ua_bench_server ${CMAKE_CURRENT_LIST_DIR}/ua_bench_server.c)
  target_link_libraries(ua_bench_server PRIVATE PkgConfig::OPEN62541)
  add_executable(bench_opcua ${CMAKE_CURRENT_LIST_DIR}/opcua_bench.c)
  target_link_libraries(bench_opcua PRIVATE tagwire_internal PkgConfig::OPEN62541)
  target_compile_definitions(bench_opcua PRIVATE TW_UA_BENCH_SERVER="$<TARGET_FILE:ua_bench_server>")
  add_dependencies(bench_opcua ua_bench_server)
else()
  message(STATUS "open62541 not found: bench_opcua is not built")
endif()
