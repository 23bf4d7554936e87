set(VIGIL_SANITIZE "" CACHE STRING "'' | address,undefined | thread")
if(VIGIL_SANITIZE STREQUAL "address,undefined")
  # -fno-sanitize=vptr: UBSan's vptr check probes memory through a pipe and reports a false
  # "invalid vptr" when the process is out of descriptors, which the connection-flood test
  # causes on purpose. Vigil's only polymorphic types are error categories.
  set(_vigil_san -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fsanitize-address-use-after-scope)
elseif(VIGIL_SANITIZE STREQUAL "thread")
  # GCC 12 warns that TSan cannot see atomic_thread_fence (used by Asio's fenced blocks);
  # the handler queues that fences order are mutex-protected, which TSan does see.
  set(_vigil_san -fsanitize=thread $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
elseif(VIGIL_SANITIZE)
  message(FATAL_ERROR "Unknown VIGIL_SANITIZE='${VIGIL_SANITIZE}'")
endif()
if(_vigil_san)
  add_compile_options(${_vigil_san} -fno-omit-frame-pointer -g -D_GLIBCXX_ASSERTIONS)
  add_link_options(${_vigil_san})
endif()
