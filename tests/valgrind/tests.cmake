# valgrind: the examples run under memcheck with full leak checking; any leak or error fails.
# Release build only (valgrind and ASan do not mix): scripts/test excludes the label under ASan.
find_program(VALGRIND valgrind)
if(VALGRIND AND TW_BUILD_EXAMPLES AND NOT TW_SANITIZE)
  set(_vg ${VALGRIND} --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
          --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes)
  add_test(NAME valgrind.example_tag_model COMMAND ${_vg} $<TARGET_FILE:example_tag_model>)
  add_test(NAME valgrind.example_custom_adapter COMMAND ${_vg} $<TARGET_FILE:example_custom_adapter>)
  add_test(NAME valgrind.example_mqtt_publish
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/with_mosquitto.sh ${_vg} $<TARGET_FILE:example_mqtt_publish>
                   127.0.0.1 @PORT@ tagwire/valgrind hello)
  add_test(NAME valgrind.cli COMMAND sh -c "${VALGRIND} --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible $<TARGET_FILE:tagwire_cli> features >/dev/null && ${VALGRIND} --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible $<TARGET_FILE:tagwire_cli> check-config ${PROJECT_SOURCE_DIR}/examples/gateway.json >/dev/null")
  set_tests_properties(valgrind.example_tag_model valgrind.example_custom_adapter valgrind.example_mqtt_publish valgrind.cli
                       PROPERTIES LABELS valgrind TIMEOUT 300)
elseif(NOT TW_SANITIZE)
  message(WARNING "valgrind not found: the valgrind tests are not registered")
endif()
