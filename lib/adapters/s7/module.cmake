# adapters/s7: Siemens S7 (S7comm over ISO-on-TCP) on libsnap7 (Debian 13's libsnap7-dev 1.4.2,
# installed by scripts/bootstrap). Built only when snap7.h and libsnap7 are found. libsnap7 ships no
# pkg-config file: -lsnap7 goes into tagwire.pc's Libs.private.
find_path(TW_SNAP7_INCLUDE_DIR snap7.h)
find_library(TW_SNAP7_LIBRARY snap7)
if(TW_SNAP7_INCLUDE_DIR AND TW_SNAP7_LIBRARY)
  if(NOT TARGET tw_snap7)
    add_library(tw_snap7 UNKNOWN IMPORTED)
    set_target_properties(tw_snap7 PROPERTIES IMPORTED_LOCATION ${TW_SNAP7_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${TW_SNAP7_INCLUDE_DIR})
  endif()
  tw_module(adapter_s7 SOURCES s7.c s7_address.c LIBS tw_snap7 DEFINES TW_HAVE_S7 PC_LIBS -lsnap7)
else()
  # the address syntax and value codec do not need libsnap7 (fuzzed and unit-tested in every build)
  message(STATUS "libsnap7 not found: the S7 adapter is not built")
  tw_module(adapter_s7_codec SOURCES s7_address.c)
endif()
