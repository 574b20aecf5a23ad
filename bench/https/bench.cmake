# bench_https: records/s the HTTPS uplink delivers from a store to a local receiver
# (tests/https/receiver.py), side by side with raw libcurl and the curl tool posting the same
# bodies over one kept-alive mutual-TLS connection.
add_executable(bench_https ${CMAKE_CURRENT_LIST_DIR}/bench_https.c)
target_link_libraries(bench_https PRIVATE tagwire_internal twtest PkgConfig::CURL)
target_compile_options(bench_https PRIVATE ${TW_WARNINGS})
target_compile_definitions(bench_https PRIVATE TW_HTTPS_TEST_DIR="${PROJECT_SOURCE_DIR}/tests/https")
