# bench_bindings_c: the C baseline of bench/bindings/run.sh (Python and Go bindings vs C, one run).
# Linked against the shared library, like the bindings.
add_executable(bench_bindings_c ${CMAKE_CURRENT_LIST_DIR}/tag_set.c)
target_link_libraries(bench_bindings_c PRIVATE tagwire)
