# config: the `tagwire check-config` command on the example and on broken files (exit codes, output).
add_test(NAME cli.check_config
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/check_config_test.sh $<TARGET_FILE:tagwire_cli> ${PROJECT_SOURCE_DIR}/examples/gateway.json)
set_tests_properties(cli.check_config PROPERTIES LABELS cli TIMEOUT 60)
