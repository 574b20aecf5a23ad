# S7 adapter against an independent S7 server: the pure-Python server of python-snap7 3.3
# (installed in /opt/tagwire-deps/opcua/venv by scripts/deps/opcua.sh). Fails when it is missing.
if("TW_HAVE_S7" IN_LIST TW_DEFINES)
  add_executable(s7_interop ${CMAKE_CURRENT_LIST_DIR}/s7_interop_test.c)
  target_link_libraries(s7_interop PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
  target_compile_options(s7_interop PRIVATE ${TW_WARNINGS})
  target_compile_definitions(s7_interop PRIVATE TW_S7_SERVER="${CMAKE_CURRENT_LIST_DIR}/s7_server.py"
    TW_DEPS_PYTHON="/opt/tagwire-deps/opcua/venv/bin/python" TW_CLI="$<TARGET_FILE:tagwire_cli>")
  add_dependencies(s7_interop tagwire_cli)
  add_test(NAME interop.s7 COMMAND s7_interop)
  set_tests_properties(interop.s7 PROPERTIES LABELS interop TIMEOUT 180)
endif()
