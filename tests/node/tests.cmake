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

# Certificate renewal by the node itself (options.enroll / the "enroll" config section): a
# short-lived certificate from an EST responder (fake_est.py "short"), renewed while renew_gw
# publishes through Mosquitto (mutual TLS, ACL) to an independent subscriber (Tahu's decoder).
# renew.sh: "live" (several renewals, broker restart after the first certificate expired) and
# "est_down" (EST unreachable at renewal time: failures, back-off, renewal once it is back) and
# "refused" (the broker refuses the renewed certificate: rollback, the current one again).
add_executable(renew_gw ${CMAKE_CURRENT_LIST_DIR}/renew_gw.c)
target_link_libraries(renew_gw PRIVATE tagwire_internal)
target_compile_options(renew_gw PRIVATE ${TW_WARNINGS})
set_target_properties(renew_gw PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
add_dependencies(renew_gw tagwire_cli)
foreach(_mode live est_down refused)
  add_test(NAME node.renew_${_mode}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/renew.sh ${_mode} ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(node.renew_${_mode} PROPERTIES LABELS "interop;node;enroll" TIMEOUT 120)
endforeach()
