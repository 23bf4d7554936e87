#pragma once
/// The HTTP front door (Boost.Beast) on the broker's shards: each shard accepts on every HTTP
/// listener (SO_REUSEPORT, plain or TLS) and serves its requests. Routing is the caller's
/// `handler`; `/ws` upgrades to the JSON push protocol over the broker's router, `/mqtt` to MQTT
/// over WebSocket served by the broker.

#include <vigil/config/settings.hpp>
#include <vigil/net/bound_listener.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::net {
class connection_gate;
class shard_pool;
struct socket_handover;
}  // namespace vigil::net
namespace vigil::router {
class hub;
}
namespace vigil::console {
class site;
}
namespace vigil::auth {
struct api_token;
class token_file;
class permissions;
}  // namespace vigil::auth

namespace vigil::http {

struct response {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
    /// Work that reads the disk (a history query): when set, the server runs it on its query
    /// thread, off the shards, and sends the response it fills in instead of this one.
    std::function<void(response&)> later = nullptr;
    /// A body of any size, sent chunked (set by `later`, instead of `body`): called on the
    /// query thread for the next piece, which it appends to its argument, once the previous
    /// piece is written; returns false with the last one. A piece at a time, so memory stays
    /// constant; a slow reader slows the producer. One that throws ends the body unfinished
    /// (the connection closes without the last chunk, so the client knows).
    std::function<bool(std::string&)> next_chunk = nullptr;
};

/// Who asks. With API tokens configured, only `/healthz` is served to a request without a
/// valid token (`authenticated` false), and only as ok / not ok.
struct caller {
    bool authenticated = true;
    /// The topics its token may read (data from other topics is left out); null: all.
    const auth::permissions* reads = nullptr;
    /// Its API token (name, admin right); null when tokens are off (or it has none).
    const auth::api_token* token = nullptr;
    /// Where the request came from (address:port), for the audit log.
    std::string peer;
};

/// Answers one request on the shard thread that read it; must not block (what would, it
/// returns as response::later).
using handler = std::function<response(std::string_view method, std::string_view target, const caller& who)>;

/// What the HTTP listeners served (a snapshot).
struct server_counters {
    std::array<std::uint64_t, 4> responses{};  ///< by status class: 2xx, 3xx, 4xx, 5xx
    std::uint64_t tls_handshakes = 0;          ///< HTTPS handshakes completed
    std::uint64_t tls_failures =
        0;  ///< failed (a refused certificate, plaintext to an HTTPS port, a client that gave up)
};

using net::bound_listener;

/// Takes a connected socket whose upgrade to MQTT over WebSocket is done, on the calling shard
/// thread (mqtt::broker::adopt_websocket).
using mqtt_adopter = std::function<void(net::socket_handover h)>;

/// What the server serves besides the handler's routes.
struct upgrades {
    router::hub* push = nullptr;  ///< `/ws`, the JSON push protocol (null: 426)
    mqtt_adopter mqtt;            ///< `/mqtt` (empty: 426)
};

/// Thread safety: construct, start and stop from the main thread; set_tokens from any thread.
class server {
public:
    /// Who may use the API and /ws: `tokens` (null: everyone; then listeners are loopback only)
    /// and the browser origins allowed to open /ws (empty: any). `gate` (null: no bounds)
    /// admits each connection, shared with the MQTT listeners; it must outlive the server.
    struct access {
        std::shared_ptr<const auth::token_file> tokens;
        std::vector<std::string> allowed_origins;
        net::connection_gate* gate = nullptr;
        /// The operations console at `/` and `/console/` (null: not served).
        std::shared_ptr<const console::site> console;
    };

    /// Errors: throws std::runtime_error when a listener's TLS certificate or key cannot be loaded.
    server(net::shard_pool& pool, std::vector<config::http_listener_settings> listeners, handler h, upgrades up,
           access acc);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds every listener and queues the accepts on the shards (which may start later).
    /// Errors: throws std::system_error naming the address that could not be bound.
    void start();
    [[nodiscard]] const std::vector<bound_listener>& listeners() const noexcept;
    /// Replaces the API tokens for requests from now on (SIGHUP); open /ws sessions whose token
    /// was removed or changed are closed (1008).
    void set_tokens(std::shared_ptr<const auth::token_file> tokens);
    /// The API tokens in force (null: the API is open).
    [[nodiscard]] std::shared_ptr<const auth::token_file> tokens() const;
    /// From any thread.
    [[nodiscard]] server_counters counters() const;
    /// Reloads the listeners' TLS certificates for connections from now on (SIGHUP), from
    /// `next` (one per listener, in order; config::plan_reload keeps each TLS or plain).
    /// Errors: throws std::runtime_error naming the file; the previous ones stay in force.
    void reload_tls(const std::vector<config::http_listener_settings>& next);
    /// Closes the listeners (open requests end with the shards).
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::http
