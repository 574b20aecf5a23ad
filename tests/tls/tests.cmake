# tls: mutual TLS against real peers (openssl s_server, Mosquitto 2) with a PKI made per run.
add_executable(tls_interop_test ${CMAKE_CURRENT_LIST_DIR}/tls_interop_test.c)
target_link_libraries(tls_interop_test PRIVATE twtest tagwire_internal)
target_compile_options(tls_interop_test PRIVATE ${TW_WARNINGS})
add_test(NAME tls.interop COMMAND tls_interop_test)
set_tests_properties(tls.interop PROPERTIES LABELS "interop;tls" TIMEOUT 300)

# The CLI: tagwire tls-probe against openssl s_server.
add_test(NAME tls.cli_probe COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_probe_test.sh $<TARGET_FILE:tagwire_cli> ${PROJECT_SOURCE_DIR})
set_tests_properties(tls.cli_probe PROPERTIES LABELS "interop;tls" TIMEOUT 120)
