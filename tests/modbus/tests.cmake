# Modbus interop: an independent peer built on Debian's libmodbus (tw_mbserver), tests against it.
pkg_check_modules(LIBMODBUS REQUIRED IMPORTED_TARGET libmodbus)

add_executable(tw_mbserver ${CMAKE_CURRENT_LIST_DIR}/mbserver.c)
target_link_libraries(tw_mbserver PRIVATE PkgConfig::LIBMODBUS)
target_compile_definitions(tw_mbserver PRIVATE _DEFAULT_SOURCE)

add_executable(modbus_interop ${CMAKE_CURRENT_LIST_DIR}/modbus_interop_test.c)
target_link_libraries(modbus_interop PRIVATE twtest tagwire_internal PkgConfig::LIBMODBUS PkgConfig::CMOCKA Threads::Threads)
target_compile_options(modbus_interop PRIVATE ${TW_WARNINGS})
target_compile_definitions(modbus_interop PRIVATE TW_MBSERVER="$<TARGET_FILE:tw_mbserver>" TW_CLI="$<TARGET_FILE:tagwire_cli>")
add_dependencies(modbus_interop tw_mbserver tagwire_cli)
add_test(NAME interop.modbus_tcp COMMAND modbus_interop)
set_tests_properties(interop.modbus_tcp PROPERTIES LABELS interop TIMEOUT 180)

add_executable(modbus_rtu ${CMAKE_CURRENT_LIST_DIR}/modbus_rtu_test.c)
target_link_libraries(modbus_rtu PRIVATE twtest tagwire_internal PkgConfig::CMOCKA Threads::Threads)
target_compile_options(modbus_rtu PRIVATE ${TW_WARNINGS})
target_compile_definitions(modbus_rtu PRIVATE TW_MBSERVER="$<TARGET_FILE:tw_mbserver>")
add_dependencies(modbus_rtu tw_mbserver)
add_test(NAME interop.modbus_rtu COMMAND modbus_rtu)
set_tests_properties(interop.modbus_rtu PROPERTIES LABELS interop TIMEOUT 120)

# A second independent peer: Debian's pymodbus 3.0 (python3-pymodbus; run with /usr/bin/python3).
add_executable(modbus_pymodbus ${CMAKE_CURRENT_LIST_DIR}/modbus_pymodbus_test.c)
target_link_libraries(modbus_pymodbus PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
target_compile_options(modbus_pymodbus PRIVATE ${TW_WARNINGS})
target_compile_definitions(modbus_pymodbus PRIVATE TW_PYMODBUS_SERVER="${CMAKE_CURRENT_LIST_DIR}/pymodbus_server.py")
add_test(NAME interop.modbus_pymodbus COMMAND modbus_pymodbus)
set_tests_properties(interop.modbus_pymodbus PROPERTIES LABELS interop TIMEOUT 120)

# Modbus/TCP Security: modbus+tls:// against socat (OpenSSL, client certificates required) in front
# of tw_mbserver, and a Python ssl server that authorises by the role in the client certificate.
add_executable(modbus_tls ${CMAKE_CURRENT_LIST_DIR}/modbus_tls_test.c)
target_link_libraries(modbus_tls PRIVATE twtest tagwire_internal PkgConfig::CMOCKA Threads::Threads)
target_compile_options(modbus_tls PRIVATE ${TW_WARNINGS})
target_compile_definitions(modbus_tls PRIVATE TW_MBSERVER="$<TARGET_FILE:tw_mbserver>" TW_CLI="$<TARGET_FILE:tagwire_cli>"
                           TW_RBAC_SERVER="${CMAKE_CURRENT_LIST_DIR}/mbaps_rbac_server.py")
add_dependencies(modbus_tls tw_mbserver tagwire_cli)
add_test(NAME interop.modbus_tls COMMAND modbus_tls)
set_tests_properties(interop.modbus_tls PROPERTIES LABELS interop TIMEOUT 180)
