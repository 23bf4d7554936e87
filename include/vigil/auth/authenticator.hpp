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
///
/// Design note. Without credentials, anyone can queue checks. So checks queue per remote
/// address, and the workers take addresses in turn with at most one check in flight per
/// address: a flood from one address delays a login from another by at most one hash per
/// worker. Queues are bounded (per address and in all; a refused check is answered "busy"
/// at once), and a check whose connection has gone is dropped before it is hashed.

#include <vigil/auth/password.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/core/histogram.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace vigil::auth {

/// One password check to make.
struct check_request {
    std::string user;
    std::string password;
    std::string address;              ///< the client's IP: checks queue and run per address
    std::weak_ptr<const void> owner;  ///< the asking connection: once gone, the check is dropped
};

/// Thread safety: safe.
class authenticator {
public:
    /// `threads`: hashing workers (0 = one per core). At most `max_per_address` checks wait
    /// per address and `max_queued` in all.
    explicit authenticator(password_file users, unsigned threads = 0, std::size_t max_per_address = 16,
                           std::size_t max_queued = 4096);
    ~authenticator();
    authenticator(const authenticator&) = delete;
    authenticator& operator=(const authenticator&) = delete;

    /// True when this exact (user, password) was verified before; cheap (one HMAC).
    [[nodiscard]] bool cached(std::string_view user, std::string_view password) const;

    /// Queues a check; `done(ok)` runs on a hashing thread (never for a dropped check).
    /// Joins an identical check already queued instead of hashing again. Returns false, and
    /// never calls `done`, when the queue of its address or the whole queue is full.
    [[nodiscard]] bool verify_async(check_request r, std::function<void(bool)> done);

    /// Replaces the users (reload) and forgets every cached success. Returns the users whose
    /// entry was removed or changed (see password_file::revoked_since).
    std::vector<std::string> reload(password_file users);

    struct counters {
        std::uint64_t hashed = 0;            ///< checks that ran
        std::uint64_t dropped = 0;           ///< checks whose connections had all gone: not hashed
        std::uint64_t refused = 0;           ///< checks refused: a queue was full
        std::size_t queued = 0;              ///< checks waiting now
        histogram<duration_bounds> seconds;  ///< of each hashed check, from queued to verdict
    };
    [[nodiscard]] counters stats() const;

private:
    struct waiter {
        std::weak_ptr<const void> owner;
        std::function<void(bool)> done;
    };
    struct job {
        std::string user;
        std::string password;
        std::string digest;
        std::chrono::steady_clock::time_point queued_at;
    };
    [[nodiscard]] std::string digest(std::string_view user, std::string_view password) const;
    void run();
    /// Takes the next job in address order, waiting for one; false when stopping.
    [[nodiscard]] bool next(unique_lock& lock, job& j, std::string& address) VIGIL_REQUIRES(mu_);

    unsigned char key_[32];
    std::string dummy_hash_;
    const std::size_t max_per_address_;
    const std::size_t max_queued_;
    mutable mutex mu_;
    std::shared_ptr<const password_file> users_ VIGIL_GUARDED_BY(mu_);
    std::unordered_set<std::string> cache_ VIGIL_GUARDED_BY(mu_);
    std::unordered_map<std::string, std::deque<job>> queued_ VIGIL_GUARDED_BY(mu_);  // by address
    std::deque<std::string> turn_ VIGIL_GUARDED_BY(mu_);               // addresses with a job and none in flight
    std::unordered_set<std::string> in_flight_ VIGIL_GUARDED_BY(mu_);  // addresses with a job being hashed
    std::unordered_map<std::string, std::vector<waiter>> waiting_ VIGIL_GUARDED_BY(mu_);  // by digest
    counters counters_ VIGIL_GUARDED_BY(mu_);
    bool stopping_ VIGIL_GUARDED_BY(mu_) = false;
    std::condition_variable cv_;
    std::vector<std::thread> workers_;
};

}  // namespace vigil::auth
