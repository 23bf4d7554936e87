#include <vigil/auth/authenticator.hpp>

#include <vigil/core/sync.hpp>
#include <vigil/core/thread_name.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include <sys/resource.h>
#include <unistd.h>

namespace vigil::auth {
namespace {
constexpr std::size_t max_cache_entries = 1'000'000;
}

authenticator::authenticator(password_file users, unsigned threads, std::size_t max_per_address, std::size_t max_queued)
    : dummy_hash_(hash_password("vigil-dummy-password", default_iterations)),
      max_per_address_(max_per_address),
      max_queued_(max_queued),
      users_(std::make_shared<const password_file>(std::move(users))) {
    if (RAND_bytes(key_, sizeof key_) != 1) {
        throw std::runtime_error("no randomness available for the authentication cache key");
    }
    if (threads == 0) {
        threads = std::max(1u, std::thread::hardware_concurrency());
    }
    for (unsigned i = 0; i < threads; ++i) {
        workers_.emplace_back([this] { run(); });
    }
}

authenticator::~authenticator() {
    {
        const lock_guard lock{mu_};
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) {
        w.join();
    }
}

std::string authenticator::digest(std::string_view user, std::string_view password) const {
    std::string data;
    data.reserve(user.size() + 1 + password.size());
    data.append(user);
    data.push_back('\0');
    data.append(password);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key_, sizeof key_, reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

bool authenticator::cached(std::string_view user, std::string_view password) const {
    const std::string d = digest(user, password);
    const lock_guard lock{mu_};
    return cache_.count(d) != 0;
}

bool authenticator::verify_async(check_request r, std::function<void(bool)> done) {
    std::string d = digest(r.user, r.password);
    {
        const lock_guard lock{mu_};
        if (const auto it = waiting_.find(d); it != waiting_.end()) {
            it->second.push_back({std::move(r.owner), std::move(done)});  // answered with it
            return true;
        }
        auto& q = queued_[r.address];
        if (q.size() >= max_per_address_ || counters_.queued >= max_queued_) {
            if (q.empty()) {
                queued_.erase(r.address);
            }
            ++counters_.refused;
            return false;
        }
        if (q.empty() && in_flight_.count(r.address) == 0) {
            turn_.push_back(r.address);  // its turn (a check in flight hands it on when done)
        }
        q.push_back({std::move(r.user), std::move(r.password), d, std::chrono::steady_clock::now()});
        ++counters_.queued;
        waiting_[std::move(d)].push_back({std::move(r.owner), std::move(done)});
    }
    cv_.notify_one();
    return true;
}

std::vector<std::string> authenticator::reload(password_file users) {
    const lock_guard lock{mu_};
    std::vector<std::string> revoked = users.revoked_since(*users_);
    users_ = std::make_shared<const password_file>(std::move(users));
    cache_.clear();
    return revoked;
}

authenticator::counters authenticator::stats() const {
    const lock_guard lock{mu_};
    return counters_;
}

bool authenticator::next(unique_lock& lock, job& j, std::string& address) {
    cv_.wait(lock.native(), [this]() VIGIL_REQUIRES(mu_) { return stopping_ || !turn_.empty(); });
    if (stopping_) {
        return false;
    }
    address = std::move(turn_.front());
    turn_.pop_front();
    auto& q = queued_[address];
    j = std::move(q.front());
    q.pop_front();
    --counters_.queued;
    in_flight_.insert(address);
    return true;
}

void authenticator::run() {
    name_thread("vigil-hash");
    // Best effort: nice 10 for this thread only (Linux), so shards win the CPU under load.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    for (;;) {
        job j;
        std::string address;
        std::shared_ptr<const password_file> users;
        bool anyone = false;
        {
            unique_lock lock{mu_};
            if (!next(lock, j, address)) {
                return;
            }
            users = users_;
            // A check nobody waits for any more (its connections closed) is not hashed.
            auto& w = waiting_[j.digest];
            std::erase_if(w, [](const waiter& x) { return x.owner.expired(); });
            anyone = !w.empty();
        }
        bool ok = false;
        if (anyone) {
            const std::string* stored = users->find(j.user);
            ok = verify_password(stored != nullptr ? *stored : dummy_hash_, j.password) && stored != nullptr;
        }
        std::vector<waiter> done;
        {
            const lock_guard lock{mu_};
            ++(anyone ? counters_.hashed : counters_.dropped);
            if (anyone) {
                counters_.seconds.add(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - j.queued_at).count());
            }
            if (ok && users_ == users) {  // not reloaded meanwhile
                if (cache_.size() >= max_cache_entries) {
                    cache_.clear();
                }
                cache_.insert(j.digest);
            }
            if (const auto it = waiting_.find(j.digest); it != waiting_.end()) {
                done = std::move(it->second);
                waiting_.erase(it);
            }
            // The address's next check, if any, takes its turn at the back.
            in_flight_.erase(address);
            if (const auto q = queued_.find(address); q != queued_.end()) {
                if (q->second.empty()) {
                    queued_.erase(q);
                } else {
                    turn_.push_back(address);
                    cv_.notify_one();
                }
            }
        }
        if (anyone) {
            for (auto& w : done) {
                w.done(ok);
            }
        }
    }
}

}  // namespace vigil::auth
