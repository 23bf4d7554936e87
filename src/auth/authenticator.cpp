#include <vigil/auth/authenticator.hpp>

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

authenticator::authenticator(password_file users, unsigned threads)
    : dummy_hash_(hash_password("vigil-dummy-password", default_iterations)),
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
        const std::lock_guard lock{mu_};
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
    const std::lock_guard lock{mu_};
    return cache_.count(d) != 0;
}

void authenticator::verify_async(std::string user, std::string password, std::function<void(bool)> done) {
    std::string d = digest(user, password);
    {
        const std::lock_guard lock{mu_};
        auto [it, first] = waiting_.try_emplace(d);
        it->second.push_back(std::move(done));
        if (!first) {
            return;  // the same check is queued: answered with it
        }
        jobs_.push_back({std::move(user), std::move(password), std::move(d)});
    }
    cv_.notify_one();
}

std::vector<std::string> authenticator::reload(password_file users) {
    const std::lock_guard lock{mu_};
    std::vector<std::string> revoked = users.revoked_since(*users_);
    users_ = std::make_shared<const password_file>(std::move(users));
    cache_.clear();
    return revoked;
}

void authenticator::run() {
    // Best effort: nice 10 for this thread only (Linux), so shards win the CPU under load.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    for (;;) {
        job j;
        std::shared_ptr<const password_file> users;
        {
            std::unique_lock lock{mu_};
            cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_) {
                return;
            }
            j = std::move(jobs_.front());
            jobs_.pop_front();
            users = users_;
        }
        const std::string* stored = users->find(j.user);
        const bool ok = verify_password(stored != nullptr ? *stored : dummy_hash_, j.password) && stored != nullptr;
        std::vector<std::function<void(bool)>> done;
        {
            const std::lock_guard lock{mu_};
            if (ok && users_ == users) {  // not reloaded meanwhile
                if (cache_.size() >= max_cache_entries) {
                    cache_.clear();
                }
                cache_.insert(j.digest);
            }
            auto it = waiting_.find(j.digest);
            if (it != waiting_.end()) {
                done = std::move(it->second);
                waiting_.erase(it);
            }
        }
        for (auto& f : done) {
            f(ok);
        }
    }
}

}  // namespace vigil::auth
