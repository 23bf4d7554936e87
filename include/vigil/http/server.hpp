#pragma once
/// The HTTP front door (Boost.Beast) on the broker's shards: each shard accepts on every HTTP
/// listener (SO_REUSEPORT) and serves its requests. Routing is the caller's `handler`; `/ws`
/// upgrades to the JSON push protocol over the broker's router.

#include <vigil/config/settings.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::net {
class shard_pool;
}
namespace vigil::router {
class hub;
}
namespace vigil::auth {
class token_file;
}

namespace vigil::http {

struct response {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
};

/// Answers one request on the shard thread that read it; must not block.
using handler = std::function<response(std::string_view method, std::string_view target)>;

struct bound_listener {
    std::string address;
    std::uint16_t port = 0;
};

/// Thread safety: construct, start and stop from the main thread.
class server {
public:
    /// Who may use the API and /ws: `tokens` (null: everyone; then listeners are loopback only)
    /// and the browser origins allowed to open /ws (empty: any).
    struct access {
        std::shared_ptr<const auth::token_file> tokens;
        std::vector<std::string> allowed_origins;
    };

    /// `push` (nullable) serves `/ws`, the JSON push WebSocket; without it /ws answers 426.
    server(net::shard_pool& pool, std::vector<config::http_listener_settings> listeners, handler h, router::hub* push = nullptr, access acc = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds every listener and queues the accepts on the shards (which may start later).
    /// Errors: throws std::system_error naming the address that could not be bound.
    void start();
    [[nodiscard]] const std::vector<bound_listener>& listeners() const noexcept;
    /// Closes the listeners (open requests end with the shards).
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::http
