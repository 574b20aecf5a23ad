# The Sparkplug edge node session against a real Mosquitto 2 (mutual TLS, ACL) started by the
# test; mosquitto_sub/mosquitto_pub act as the host; payloads are checked (and commands encoded)
# by Eclipse Tahu's JavaScript codec (npm sparkplug-payload, scripts/deps/sparkplug.sh).
# Fails (does not skip) when a peer is missing.
find_program(TW_EDGE_NODE NAMES node nodejs)
if(NOT TW_EDGE_NODE)
  set(TW_EDGE_NODE node)
endif()
add_executable(edge_interop ${CMAKE_CURRENT_LIST_DIR}/edge_interop_test.c)
target_link_libraries(edge_interop PRIVATE twtest tagwire_internal PkgConfig::CMOCKA PkgConfig::JSONC)
target_compile_options(edge_interop PRIVATE ${TW_WARNINGS})
target_compile_definitions(edge_interop PRIVATE
  TW_EDGE_TAHU_TOOL="${CMAKE_CURRENT_LIST_DIR}/tahu_tool.js" TW_NODE_BIN="${TW_EDGE_NODE}"
  TW_CLI_BIN="$<TARGET_FILE:tagwire_cli>")
add_dependencies(edge_interop tagwire_cli)
add_test(NAME interop.edge COMMAND edge_interop)
set_tests_properties(interop.edge PROPERTIES LABELS interop TIMEOUT 240)
