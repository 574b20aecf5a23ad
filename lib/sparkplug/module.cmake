# sparkplug: Sparkplug B 3.0 payload codec (protobuf-c reference + direct DATA encoder), topics.
# The schema lib/sparkplug/sparkplug_b.proto is compiled by protoc-c into the build tree
# (${PROJECT_BINARY_DIR}/lib/sparkplug/, included as "sparkplug/sparkplug_b.pb-c.h").
if(NOT PROTOC_C OR NOT PROTOBUFC_FOUND)
  message(FATAL_ERROR "sparkplug: protoc-c and libprotobuf-c are required (apt: protobuf-c-compiler libprotobuf-c-dev)")
endif()
set(TW_SP_GEN_DIR ${PROJECT_BINARY_DIR}/lib/sparkplug)
file(MAKE_DIRECTORY ${TW_SP_GEN_DIR})
add_custom_command(
  OUTPUT ${TW_SP_GEN_DIR}/sparkplug_b.pb-c.c ${TW_SP_GEN_DIR}/sparkplug_b.pb-c.h
  COMMAND ${PROTOC_C} --proto_path=${CMAKE_CURRENT_LIST_DIR} --c_out=${TW_SP_GEN_DIR} sparkplug_b.proto
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/sparkplug_b.proto
  COMMENT "protoc-c: sparkplug_b.proto"
  VERBATIM)
# Generated code: not ours to lint.
set_source_files_properties(${TW_SP_GEN_DIR}/sparkplug_b.pb-c.c PROPERTIES GENERATED TRUE COMPILE_OPTIONS "-w")
tw_module(sparkplug SOURCES sp_encode.c sp_decode.c sp_topic.c sp_edge.c
  LIBS PkgConfig::PROTOBUFC DEFINES TW_HAVE_SPARKPLUG PKG_REQUIRES libprotobuf-c)
list(APPEND TW_SOURCES ${TW_SP_GEN_DIR}/sparkplug_b.pb-c.c)
