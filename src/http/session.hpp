#pragma once
// One HTTP/1.1 connection on a shard, and what every connection of a server shares.

#include <vigil/auth/tokens.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/http/server.hpp>
#include <vigil/net/gate.hpp>

#include "live.hpp"
#include "stream.hpp"

#include <boost/asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil::http {

/// The API tokens in force, replaced on SIGHUP. Thread safety: safe. (A mutex, not
/// std::atomic<std::shared_ptr>: libstdc++ 12's lock bit is invisible to ThreadSanitizer.)
class token_slot {
public:
    [[nodiscard]] std::shared_ptr<const auth::token_file> get() const {
        const lock_guard lock{mu_};
        return tokens_;
    }
    void set(std::shared_ptr<const auth::token_file> t) {
        const lock_guard lock{mu_};
        tokens_ = std::move(t);
    }

private:
    mutable mutex mu_;
    std::shared_ptr<const auth::token_file> tokens_ VIGIL_GUARDED_BY(mu_);
};

/// Counted by every session of a server (relaxed: counters).
struct shared_counters {
    std::array<std::atomic<std::uint64_t>, 4> responses{};  // 2xx .. 5xx
    std::atomic<std::uint64_t> tls_handshakes{0};
    std::atomic<std::uint64_t> tls_failures{0};

    void response(unsigned status) noexcept {
        if (status >= 200 && status < 600) {
            responses[status / 100 - 2].fetch_add(1, std::memory_order_relaxed);
        }
    }
};

/// What every session of a server shares.
struct shared_state {
    handler h;
    upgrades up;
    std::vector<std::string> allowed_origins;
    token_slot tokens;
    std::shared_ptr<live_connections> live;        // closed by stop()
    net::connection_gate* gate = nullptr;          // null: no connection bounds
    std::shared_ptr<const console::site> console;  // null: no console
    asio::thread_pool* queries = nullptr;          // runs response::later, one at a time
    mutable shared_counters counters;
};

/// Serves HTTP/1.1 on `s` (keep-alive, bounded header and body sizes, idle timeout) until the
/// peer goes, an upgrade takes the stream, or the server stops. Call on the stream's shard.
void start_session(stream s, std::shared_ptr<const shared_state> st, bool allow_anonymous,
                   net::connection_gate::ticket ticket);

}  // namespace vigil::http
