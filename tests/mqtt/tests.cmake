# MQTT client against a real Mosquitto 2 broker (started by the test) with mosquitto_sub and
# mosquitto_pub as independent peers. Needs scripts/deps/mqtt.apt installed.
add_executable(mqtt_interop ${CMAKE_CURRENT_LIST_DIR}/mqtt_interop_test.c)
target_link_libraries(mqtt_interop PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
target_compile_options(mqtt_interop PRIVATE ${TW_WARNINGS})
add_test(NAME interop.mqtt COMMAND mqtt_interop)
set_tests_properties(interop.mqtt PROPERTIES LABELS interop TIMEOUT 180)
