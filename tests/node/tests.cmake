# node: end-to-end on loopback. sim:// + a libmodbus server -> node -> Mosquitto (mutual TLS, ACL) ->
# mosquitto_sub -> Eclipse Tahu's decoder (npm sparkplug-payload); DCMD writes checked on the Modbus
# server with pymodbus. The same test runs the node on its own thread (`tagwire run`) and in the
# caller's poll loop (examples/event_loop). Peers missing -> the test fails (bootstrap installs them).
foreach(_mode run event_loop)
  add_test(NAME node.e2e_${_mode}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e.sh ${_mode} ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(node.e2e_${_mode} PROPERTIES LABELS "interop;node" TIMEOUT 300
    ENVIRONMENT "TW_MBSERVER=$<TARGET_FILE:tw_mbserver>")
endforeach()

# valgrind: a gateway run (`tagwire run`) under memcheck with a broker restart in it
# (the node reconnects and is born again); any leak or memory error fails. Release build only.
find_program(TW_VALGRIND valgrind)
if(TW_VALGRIND AND NOT TW_SANITIZE)
  add_test(NAME valgrind.node_gateway_reconnect
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e.sh valgrind ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(valgrind.node_gateway_reconnect PROPERTIES LABELS "valgrind;node" TIMEOUT 400
    ENVIRONMENT "TW_MBSERVER=$<TARGET_FILE:tw_mbserver>")
endif()
