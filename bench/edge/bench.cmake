# bench_sparkplug_e2e: end-to-end Sparkplug metric updates per second over mutual TLS to a
# Mosquitto broker, the tagwire edge session (tag set -> change set -> NDATA -> MQTT/TLS) vs
# libmosquitto sending the same pre-encoded payloads (libmosquitto-dev: scripts/deps/mqtt.apt).
pkg_check_modules(TW_BENCH_EDGE_MOSQ IMPORTED_TARGET libmosquitto)
add_executable(bench_sparkplug_e2e ${CMAKE_CURRENT_LIST_DIR}/sparkplug_e2e.c)
target_link_libraries(bench_sparkplug_e2e PRIVATE tagwire_internal twtest)
if(TW_BENCH_EDGE_MOSQ_FOUND)
  target_link_libraries(bench_sparkplug_e2e PRIVATE PkgConfig::TW_BENCH_EDGE_MOSQ)
  target_compile_definitions(bench_sparkplug_e2e PRIVATE TW_BENCH_HAVE_LIBMOSQUITTO=1)
endif()
