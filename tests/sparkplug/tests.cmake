# Sparkplug payloads checked by an independent decoder: Eclipse Tahu's JavaScript codec (npm
# package sparkplug-payload, installed under /opt/tagwire-deps/sparkplug by scripts/deps/sparkplug.sh).
# The test fails (does not skip) when node or the package is missing.
add_executable(sparkplug_interop_gen ${CMAKE_CURRENT_LIST_DIR}/interop_gen.c)
target_link_libraries(sparkplug_interop_gen PRIVATE tagwire_internal)
target_compile_options(sparkplug_interop_gen PRIVATE ${TW_WARNINGS})
find_program(TW_NODE NAMES node nodejs)
if(NOT TW_NODE)
  set(TW_NODE node)
endif()
set(_sp_dir ${CMAKE_CURRENT_BINARY_DIR}/sparkplug_interop)
add_test(NAME interop.sparkplug_tahu
  COMMAND sh -c "rm -rf \"$1\" && mkdir -p \"$1\" && \"$2\" \"$1\" && \"$3\" \"$4\" \"$1\""
          sh ${_sp_dir} $<TARGET_FILE:sparkplug_interop_gen> ${TW_NODE}
          ${CMAKE_CURRENT_LIST_DIR}/tahu_check.js)
set_tests_properties(interop.sparkplug_tahu PROPERTIES LABELS interop TIMEOUT 120)

# The CLI: tagwire sparkplug-decode on payloads from the generator (JSON checked with node).
add_test(NAME cli.sparkplug_decode
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:tagwire_cli>
          $<TARGET_FILE:sparkplug_interop_gen> ${TW_NODE} ${CMAKE_CURRENT_BINARY_DIR}/sparkplug_cli)
set_tests_properties(cli.sparkplug_decode PROPERTIES LABELS cli TIMEOUT 60)

# The reverse direction: payloads encoded by Tahu (as a host sends commands), decoded by tagwire.
add_test(NAME interop.sparkplug_tahu_encoded
  COMMAND ${TW_NODE} ${CMAKE_CURRENT_LIST_DIR}/tahu_encode_check.js $<TARGET_FILE:tagwire_cli>
          ${CMAKE_CURRENT_BINARY_DIR}/sparkplug_tahu_encoded)
set_tests_properties(interop.sparkplug_tahu_encoded PROPERTIES LABELS interop TIMEOUT 60)
