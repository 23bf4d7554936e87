#pragma once
/// Checks usernames and passwords without ever hashing on a shard thread.
///
/// PBKDF2 with 100,000 iterations costs tens of milliseconds, so a reconnect storm of
/// 10,000 devices would cost minutes of CPU. Successful checks are cached as an HMAC-SHA256
/// of (user, password) under a key drawn at random per process: the cache holds no
/// password and no reusable hash. Identical checks already queued are verified once and
/// answered together (a fleet sharing one account costs one hash). Unknown users are
/// hashed against a dummy hash, so the answer takes as long as for a known user. The cache
/// is cleared on reload. Hashing runs on `threads` workers at a lower CPU priority than the
/// shards, so a cold storm (after a restart, nothing cached) uses every core that live
/// traffic leaves idle without adding to its latency.

#include <vigil/auth/password.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace vigil::auth {

/// Thread safety: safe.
class authenticator {
public:
    /// `threads`: hashing workers (0 = one per core).
    explicit authenticator(password_file users, unsigned threads = 0);
    ~authenticator();
    authenticator(const authenticator&) = delete;
    authenticator& operator=(const authenticator&) = delete;

    /// True when this exact (user, password) was verified before; cheap (one HMAC).
    [[nodiscard]] bool cached(std::string_view user, std::string_view password) const;

    /// Verifies on the authenticator's thread and calls `done(ok)` there; joins an identical
    /// check already queued instead of hashing again.
    void verify_async(std::string user, std::string password, std::function<void(bool)> done);

    /// Replaces the users (reload) and forgets every cached success. Returns the users whose
    /// entry was removed or changed (see password_file::revoked_since).
    std::vector<std::string> reload(password_file users);

private:
    struct job {
        std::string user;
        std::string password;
        std::string digest;
    };
    [[nodiscard]] std::string digest(std::string_view user, std::string_view password) const;
    void run();

    unsigned char key_[32];
    std::string dummy_hash_;
    mutable std::mutex mu_;
    std::shared_ptr<const password_file> users_;  // guarded by mu_
    std::unordered_set<std::string> cache_;        // guarded by mu_
    std::deque<job> jobs_;                          // guarded by mu_
    std::unordered_map<std::string, std::vector<std::function<void(bool)>>> waiting_;  // by digest; guarded by mu_
    bool stopping_ = false;                         // guarded by mu_
    std::condition_variable cv_;
    std::vector<std::thread> workers_;
};

}  // namespace vigil::auth
