# Python and Go bindings (bindings/python, bindings/go): their own test suites, run by ctest.
# Label: bindings. They load the shared library into an uninstrumented interpreter/runtime, so in a
# sanitizer build (TW_SANITIZE) they are registered but DISABLED (an ASan-instrumented libtagwire.so
# cannot be loaded into python3 or a Go test binary without preloading the sanitizer runtime).
set(TW_PYTHON /usr/bin/python3 CACHE FILEPATH "Python interpreter for the Python binding tests (needs cffi and pytest)")
find_program(TW_GO NAMES go PATHS /usr/local/go/bin NO_DEFAULT_PATH)
if(NOT TW_GO)
  find_program(TW_GO NAMES go)
endif()
if(NOT TW_GO)
  set(TW_GO go)
endif()
set(_bind_src ${PROJECT_SOURCE_DIR}/bindings)

add_test(NAME bindings.python
  COMMAND ${CMAKE_COMMAND} -E env
          TAGWIRE_LIBRARY=$<TARGET_FILE:tagwire>
          TAGWIRE_SOURCE_DIR=${PROJECT_SOURCE_DIR}
          TW_MBSERVER=$<TARGET_FILE:tw_mbserver>
          PYTHONDONTWRITEBYTECODE=1
          ${TW_PYTHON} -m pytest -q -p no:cacheprovider ${_bind_src}/python/tests
  WORKING_DIRECTORY ${_bind_src}/python)
set_tests_properties(bindings.python PROPERTIES LABELS bindings TIMEOUT 600)

add_test(NAME bindings.python_install
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/python_install_test.sh ${TW_PYTHON} ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(bindings.python_install PROPERTIES LABELS bindings TIMEOUT 300)

set(_bind_tests bindings.python bindings.python_install)
if(EXISTS ${_bind_src}/go/go.mod)
  add_test(NAME bindings.go
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/go_test.sh ${TW_GO} ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
            $<TARGET_FILE:tw_mbserver>)
  set_tests_properties(bindings.go PROPERTIES LABELS bindings TIMEOUT 900)
  list(APPEND _bind_tests bindings.go)
endif()

if(TW_SANITIZE)
  message(STATUS "bindings tests disabled: TW_SANITIZE=${TW_SANITIZE} (python3/go cannot load an instrumented libtagwire.so)")
  set_tests_properties(${_bind_tests} PROPERTIES DISABLED TRUE)
endif()
