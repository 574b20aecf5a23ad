# bench_mqtt_publish (bench/mqtt_publish.c) compares against libmosquitto when it is installed
# (Debian: libmosquitto-dev, listed in scripts/deps/mqtt.apt); otherwise against mosquitto_pub.
pkg_check_modules(TW_BENCH_MOSQ IMPORTED_TARGET libmosquitto)
if(TW_BENCH_MOSQ_FOUND AND TARGET bench_mqtt_publish)
  target_link_libraries(bench_mqtt_publish PRIVATE PkgConfig::TW_BENCH_MOSQ)
  target_compile_definitions(bench_mqtt_publish PRIVATE TW_BENCH_HAVE_LIBMOSQUITTO=1)
endif()
