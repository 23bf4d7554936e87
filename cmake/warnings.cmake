add_library(vigil_warnings INTERFACE)
add_library(vigil::warnings ALIAS vigil_warnings)
target_compile_options(vigil_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  -Wnon-virtual-dtor -Woverloaded-virtual -Wcast-qual -Wformat=2 -Wimplicit-fallthrough
  -Wmissing-declarations -Wundef
  $<$<CXX_COMPILER_ID:GNU>:-Wlogical-op -Wduplicated-cond -Wduplicated-branches>
  $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety -Wunreachable-code>
  $<$<BOOL:${VIGIL_WERROR}>:-Werror>
  # GCC 12 optimizer false positives (see STYLE.md): keep them visible, never fatal.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-error=maybe-uninitialized -Wno-error=array-bounds -Wno-error=stringop-overflow -Wno-error=restrict>)
