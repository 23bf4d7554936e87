#pragma once
/// Names the calling thread (at most 15 characters are kept), so `top -H`, `perf` and debuggers
/// show which part of vigil a thread is: vigil-shard-N, vigil-store, vigil-archive, ...

#include <pthread.h>

#include <algorithm>
#include <cstddef>
#include <string>

namespace vigil {

inline void name_thread(std::string name) {
    name.resize(std::min<std::size_t>(name.size(), 15));
    (void)pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace vigil
