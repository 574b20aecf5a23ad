# delivery: the "loses no data" promise end to end (store-and-forward in the node). A node with a
# disk store and a deterministic counter (delivery_gw) -> Mosquitto 2 (mutual TLS, ACL,
# max_queued_messages 0) -> mosquitto_sub -> Eclipse Tahu's decoder (check.js); the broker killed
# 20 times, the gateway killed 20 times, the primary host offline, a full disk (tmpfs, root), a
# small store with overflow "refuse new" filled during a broker outage.
# Peers missing -> the test fails (the bootstrap installs them).
add_executable(delivery_gw ${CMAKE_CURRENT_LIST_DIR}/delivery_gw.c)
target_link_libraries(delivery_gw PRIVATE tagwire_internal)
target_compile_options(delivery_gw PRIVATE ${TW_WARNINGS})
set_target_properties(delivery_gw PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
foreach(_mode broker_kill gateway_kill host_offline disk_full refuse_new)
  add_test(NAME delivery.${_mode}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh ${_mode} ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(delivery.${_mode} PROPERTIES LABELS "delivery;interop" TIMEOUT 400
    RUN_SERIAL TRUE)
endforeach()
