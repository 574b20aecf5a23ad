# store: the store-inspect CLI against a store written by the library (torn tail, acknowledged part).
add_executable(store_make_store ${CMAKE_CURRENT_LIST_DIR}/make_store.c)
target_compile_options(store_make_store PRIVATE ${TW_WARNINGS})
target_link_libraries(store_make_store PRIVATE tagwire_internal)
add_test(NAME store.inspect COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/inspect_test.sh
         $<TARGET_FILE:tagwire_cli> $<TARGET_FILE:store_make_store>)
set_tests_properties(store.inspect PROPERTIES LABELS store TIMEOUT 60)
