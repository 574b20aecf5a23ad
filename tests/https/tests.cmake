# https: the HTTPS uplink against an independent receiver (Python http.server + ssl, client
# certificates required) on 127.0.0.1; protobuf bodies decoded by Eclipse Tahu's codec (node).
# The test fails (does not skip) when python3 or node/sparkplug-payload is missing.
find_program(TW_HTTPS_NODE NAMES node nodejs)
if(NOT TW_HTTPS_NODE)
  set(TW_HTTPS_NODE node)
endif()
add_executable(https_test ${CMAKE_CURRENT_LIST_DIR}/https_test.c)
target_link_libraries(https_test PRIVATE twtest tagwire_internal PkgConfig::CMOCKA PkgConfig::CURL)
target_compile_options(https_test PRIVATE ${TW_WARNINGS})
target_compile_definitions(https_test PRIVATE TW_HTTPS_TEST_DIR="${CMAKE_CURRENT_LIST_DIR}"
                           TW_NODE_PROGRAM="${TW_HTTPS_NODE}" TW_CLI_PATH="$<TARGET_FILE:tagwire_cli>")
add_dependencies(https_test tagwire_cli)
add_test(NAME interop.https COMMAND https_test)
set_tests_properties(interop.https PROPERTIES LABELS "interop;https" TIMEOUT 400)
