# S7 adapter against independent S7 servers: the pure-Python server of python-snap7 3.3
# and, for native bit writes, snap7's own server (libsnap7)
# (installed in /opt/tagwire-deps/opcua/venv by scripts/deps/opcua.sh). Fails when it is missing.
if("TW_HAVE_S7" IN_LIST TW_DEFINES)
  # second peer: snap7's own server (libsnap7 Srv_* API) for native bit writes
  add_executable(tw_snap7_server ${CMAKE_CURRENT_LIST_DIR}/snap7_server.c)
  target_link_libraries(tw_snap7_server PRIVATE tw_snap7)
  target_compile_definitions(tw_snap7_server PRIVATE _DEFAULT_SOURCE)
  add_executable(s7_interop ${CMAKE_CURRENT_LIST_DIR}/s7_interop_test.c)
  target_link_libraries(s7_interop PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
  target_compile_options(s7_interop PRIVATE ${TW_WARNINGS})
  target_compile_definitions(s7_interop PRIVATE TW_S7_SERVER="${CMAKE_CURRENT_LIST_DIR}/s7_server.py"
    TW_DEPS_PYTHON="/opt/tagwire-deps/opcua/venv/bin/python" TW_CLI="$<TARGET_FILE:tagwire_cli>" TW_SNAP7_SERVER="$<TARGET_FILE:tw_snap7_server>")
  add_dependencies(s7_interop tagwire_cli tw_snap7_server)
  add_test(NAME interop.s7 COMMAND s7_interop)
  set_tests_properties(interop.s7 PROPERTIES LABELS interop TIMEOUT 180)
endif()
