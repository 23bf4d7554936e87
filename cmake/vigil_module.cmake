# vigil_add_module(<path> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# One static library per module, vigil::<name with / replaced by _>.
function(vigil_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS;PCH" ${ARGN})
  string(REPLACE "/" "_" tgt "${name}")
  add_library(vigil_${tgt} STATIC ${ARG_SOURCES})
  add_library(vigil::${tgt} ALIAS vigil_${tgt})
  target_include_directories(vigil_${tgt}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src/${name})
  target_link_libraries(vigil_${tgt}
    PUBLIC ${ARG_DEPS}
    PRIVATE ${ARG_PRIVATE_DEPS} vigil::warnings)
  # Public headers form a header set; VERIFY_INTERFACE_HEADER_SETS compiles each alone
  # (target all_verify_interface_header_sets), so every public header stays self-contained.
  file(GLOB _headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/vigil/${name}/*.hpp)
  if(_headers)
    target_sources(vigil_${tgt} PUBLIC FILE_SET HEADERS BASE_DIRS ${PROJECT_SOURCE_DIR}/include FILES ${_headers})
    set_target_properties(vigil_${tgt} PROPERTIES VERIFY_INTERFACE_HEADER_SETS ON)
  endif()
  if(ARG_PCH)
    target_precompile_headers(vigil_${tgt} PRIVATE ${ARG_PCH})
  endif()
endfunction()
