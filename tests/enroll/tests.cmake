# enroll: the EST client against GlobalSign's estserver (scripts/deps/enroll.sh) and a scripted
# openssl-based responder (fake_est.py), both on 127.0.0.1.
add_executable(est_interop_test ${CMAKE_CURRENT_LIST_DIR}/est_interop_test.c)
target_link_libraries(est_interop_test PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
target_compile_options(est_interop_test PRIVATE ${TW_WARNINGS})
add_dependencies(est_interop_test tagwire_cli)
add_test(NAME interop.est COMMAND est_interop_test)
set_tests_properties(interop.est PROPERTIES LABELS "interop;enroll" TIMEOUT 300)
