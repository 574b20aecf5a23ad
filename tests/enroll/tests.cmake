# enroll: the EST client against GlobalSign's estserver (scripts/deps/enroll.sh) and a scripted
# openssl-based responder (fake_est.py), both on 127.0.0.1.
add_executable(est_interop_test ${CMAKE_CURRENT_LIST_DIR}/est_interop_test.c)
target_link_libraries(est_interop_test PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
target_compile_options(est_interop_test PRIVATE ${TW_WARNINGS})
add_dependencies(est_interop_test tagwire_cli)
add_test(NAME interop.est COMMAND est_interop_test)
set_tests_properties(interop.est PROPERTIES LABELS "interop;enroll" TIMEOUT 300)

# Renewal under load: a 2-minute certificate from fake_est.py renewed by tw_enroll_step() while an
# MQTT client publishes QoS 1 over mutual TLS to Mosquitto 2; hot swap, next handshake, commit.
add_executable(est_renew_live_test ${CMAKE_CURRENT_LIST_DIR}/est_renew_live_test.c)
target_link_libraries(est_renew_live_test PRIVATE twtest tagwire_internal PkgConfig::CMOCKA)
target_compile_options(est_renew_live_test PRIVATE ${TW_WARNINGS})
add_test(NAME interop.est_renew_live COMMAND est_renew_live_test)
set_tests_properties(interop.est_renew_live PROPERTIES LABELS "interop;enroll" TIMEOUT 300)
