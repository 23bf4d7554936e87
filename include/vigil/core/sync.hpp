#pragma once
/// A mutex and locks that Clang's thread-safety analysis understands, and the attributes that
/// say which mutex guards a member or must be held to call a function. With Clang and
/// -Wthread-safety (scripts/thread-safety.sh, run by the test script), touching a guarded member
/// without its mutex is a compile error; other compilers see a plain std::mutex.
///
///     mutable vigil::mutex mu_;
///     int count_ VIGIL_GUARDED_BY(mu_) = 0;
///     void bump() VIGIL_REQUIRES(mu_);        // callers hold mu_
///     { const vigil::lock_guard lock{mu_}; ++count_; }
///
/// Waiting on a condition variable: the analysis sees a lambda as a function of its own, so a
/// predicate that reads guarded members says it needs the mutex (the wait calls it with the
/// mutex held): `cv_.wait(lock.native(), [this]() VIGIL_REQUIRES(mu_) { return ready_; });`.
#include <mutex>

#if defined(__clang__)
#define VIGIL_TSA(x) __attribute__((x))
#else
#define VIGIL_TSA(x)
#endif

#define VIGIL_GUARDED_BY(m) VIGIL_TSA(guarded_by(m))
#define VIGIL_PT_GUARDED_BY(m) VIGIL_TSA(pt_guarded_by(m))
#define VIGIL_REQUIRES(...) VIGIL_TSA(requires_capability(__VA_ARGS__))
#define VIGIL_EXCLUDES(...) VIGIL_TSA(locks_excluded(__VA_ARGS__))

namespace vigil {

class VIGIL_TSA(capability("mutex")) mutex {
public:
    void lock() VIGIL_TSA(acquire_capability()) { m_.lock(); }
    void unlock() VIGIL_TSA(release_capability()) { m_.unlock(); }
    [[nodiscard]] bool try_lock() VIGIL_TSA(try_acquire_capability(true)) { return m_.try_lock(); }

private:
    friend class unique_lock;
    std::mutex m_;
};

/// Holds the mutex for its scope.
class VIGIL_TSA(scoped_lockable) lock_guard {
public:
    explicit lock_guard(mutex& m) VIGIL_TSA(acquire_capability(m)) : m_(m) { m_.lock(); }
    ~lock_guard() VIGIL_TSA(release_capability()) { m_.unlock(); }
    lock_guard(const lock_guard&) = delete;
    lock_guard& operator=(const lock_guard&) = delete;

private:
    mutex& m_;
};

/// Holds the mutex for its scope, may let it go and take it again, and lends the standard lock
/// to a std::condition_variable.
class VIGIL_TSA(scoped_lockable) unique_lock {
public:
    explicit unique_lock(mutex& m) VIGIL_TSA(acquire_capability(m)) : lock_(m.m_) {}
    ~unique_lock() VIGIL_TSA(release_capability()) = default;
    unique_lock(const unique_lock&) = delete;
    unique_lock& operator=(const unique_lock&) = delete;

    void lock() VIGIL_TSA(acquire_capability()) { lock_.lock(); }
    void unlock() VIGIL_TSA(release_capability()) { lock_.unlock(); }
    /// For std::condition_variable's waits, which leave the mutex held when they return.
    [[nodiscard]] std::unique_lock<std::mutex>& native() noexcept { return lock_; }

private:
    std::unique_lock<std::mutex> lock_;
};

}  // namespace vigil
