# examples: each example is built (examples/CMakeLists.txt) and run here.
# The node examples run against a real Mosquitto (mutual TLS, ACL) and are checked by an
# independent Sparkplug decoder (tests/node/e2e.sh, shared with the node's end-to-end test).
foreach(_ex modbus_gateway oem custom_adapter)
  add_test(NAME examples.${_ex}
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/node/e2e.sh ${_ex} ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(examples.${_ex} PROPERTIES LABELS "interop;examples" TIMEOUT 300
    ENVIRONMENT "TW_MBSERVER=$<TARGET_FILE:tw_mbserver>")
endforeach()
# examples that need no peer: they must run to completion
foreach(_ex tag_model)
  add_test(NAME examples.${_ex} COMMAND example_${_ex})
  set_tests_properties(examples.${_ex} PROPERTIES LABELS examples TIMEOUT 60)
endforeach()
