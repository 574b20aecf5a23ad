# enroll: EST response parsing (base64 + PKCS#7 certs-only + X.509 + PEM), tagwire vs OpenSSL.
pkg_check_modules(TW_BENCH_LIBCRYPTO IMPORTED_TARGET libcrypto)
if(TW_BENCH_LIBCRYPTO_FOUND)
  add_executable(bench_enroll_parse ${CMAKE_CURRENT_LIST_DIR}/enroll_parse.c)
  target_link_libraries(bench_enroll_parse PRIVATE tagwire_internal PkgConfig::TW_BENCH_LIBCRYPTO)
  target_compile_definitions(bench_enroll_parse PRIVATE TW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endif()
