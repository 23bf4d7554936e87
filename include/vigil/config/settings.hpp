#pragma once
/// The validated, immutable configuration of one vigil process.

#include <vigil/core/log.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::config {

/// `tls.*` keys of a listener; present iff the listener speaks TLS.
struct tls_listener_settings {
    std::string cert;
    std::string key;
    std::string ca;
    std::string crl;
    bool require_certificate = false;       ///< mutual TLS
    bool use_identity_as_username = false;  ///< the certificate's identity becomes the username
    std::string identity = "cn";            ///< "cn", or the first "san-dns", "san-email", "san-uri"
    std::string ciphers;                    ///< TLS 1.2 cipher list ("" = strong default)
    std::string ciphersuites;               ///< TLS 1.3 suites ("" = OpenSSL default)

    bool operator==(const tls_listener_settings&) const = default;
};

/// An MQTT listener (`[[listener]]`).
struct listener_settings {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 1883;  ///< 0 lets the OS pick (tests)
    int backlog = 4096;
    /// Clients without a verified username may connect. Default: true on a loopback
    /// address, false elsewhere (secure by default).
    bool allow_anonymous = true;
    /// New connections accepted per second on this listener (0 = unlimited); the excess is
    /// closed at once, before any handshake.
    unsigned max_connection_rate = 0;
    std::optional<tls_listener_settings> tls;

    [[nodiscard]] bool loopback() const noexcept;

    bool operator==(const listener_settings&) const = default;
};

/// An HTTP listener (`[[http.listener]]`): /healthz, /api, /ws and /mqtt.
struct http_listener_settings {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 8080;  ///< 0 lets the OS pick (tests)
    /// MQTT over WebSocket (/mqtt) clients without a verified username may connect.
    /// Default: true on a loopback address, false elsewhere.
    bool allow_anonymous = true;
    /// New connections accepted per second (0 = unlimited); the excess is closed at once.
    unsigned max_connection_rate = 0;
    std::optional<tls_listener_settings> tls;  ///< HTTPS and wss://

    bool operator==(const http_listener_settings&) const = default;
};

/// `[http]` beyond its listeners.
struct http_settings {
    /// API tokens (`vigil token`) in a file and inline (the same line format); neither: the
    /// API and /ws are open (loopback listeners only).
    std::string tokens_file;
    std::vector<std::string> tokens;
    /// Origins allowed to open /ws from a browser ("https://dispatch.example"); empty: any.
    std::vector<std::string> allowed_origins;

    bool operator==(const http_settings&) const = default;
};

/// `[auth]`
struct auth_settings {
    std::string password_file;  ///< empty: no passwords (only anonymous clients)
    std::string acl_file;       ///< empty: no ACL (every authenticated client may do anything)
    unsigned hash_threads = 0;  ///< password-hashing threads (0 = one per core)
    /// A client's id must equal its identity (verified username or certificate identity).
    bool client_id_must_match = false;

    bool operator==(const auth_settings&) const = default;
};

/// `[limits]`
struct limits_settings {
    std::uint16_t max_inflight = 32;
    std::size_t max_queued = 10000;
    std::size_t max_packet_size = 262144;
    std::size_t max_outbound_bytes = 1024 * 1024;
    std::chrono::milliseconds connect_timeout{10000};
    std::size_t max_connections = 100000;         ///< open connections, all listeners (MQTT and HTTP) together
    std::size_t max_connections_per_address = 0;  ///< open connections from one IP address (0 = unlimited)
    unsigned max_publish_rate = 0;                ///< PUBLISH packets/s per client (0 = unlimited)
    std::size_t max_queued_bytes = 64u << 20;     ///< payload bytes queued per session
    /// A persistent session whose client has been away this long is discarded with its
    /// queue (0 = never, as MQTT 3.1.1 and mosquitto's default).
    std::chrono::milliseconds session_expiry{0};
    /// After CONNECT, a packet begun must be complete within this (a trickled packet holds
    /// its buffer only so long).
    std::chrono::milliseconds packet_timeout{30000};
    std::size_t max_subscriptions = 10000;         ///< filters per client
    std::size_t max_sessions_per_identity = 1000;  ///< persistent sessions one identity may own (0 = unlimited)
    std::size_t max_retained = 1'000'000;          ///< retained messages in all
    std::uint64_t max_retained_bytes = std::uint64_t{1} << 30;  ///< their payload bytes
    std::size_t max_retained_per_identity = 10'000;             ///< retained messages one identity set
    std::uint64_t max_retained_bytes_per_identity = std::uint64_t{64} << 20;
    /// Below this much free space on data_dir's disk new retained messages are refused, before
    /// the store fails for lack of room (0 = no check).
    std::uint64_t min_free_disk = std::uint64_t{256} << 20;

    bool operator==(const limits_settings&) const = default;
};

/// `durability`: when a QoS 1/2 PUBLISH is acknowledged.
enum class durability_mode : std::uint8_t {
    durable,  ///< after its effects are in the write-ahead log and fsynced
    fast,     ///< at once; persisted right after (a crash may lose the last milliseconds)
};

/// `[state]`
struct state_settings {
    /// Topic filters whose newest message per topic is kept (the last-value cache).
    std::vector<std::string> topics{"devices/+/location", "devices/+/status"};

    bool operator==(const state_settings&) const = default;
};

/// `[probe]`: the end-to-end probe. Vigil connects to its own first MQTT listener and first
/// HTTP listener's /ws as a real client, publishes a QoS 1 message on `topic` and times its
/// arrival at both.
struct probe_settings {
    std::chrono::milliseconds interval{30000};    ///< 0 ("off"): no probe
    std::chrono::milliseconds max_latency{1000};  ///< slower than this: degraded
    std::string topic = "vigil/probe";            ///< where it publishes (its ACL rights need only this)
    std::string client_id = "vigil-probe";
    std::string username;  ///< MQTT credentials, when the listener needs them
    std::string password;
    std::string token;  ///< an API token for /ws, when tokens are configured
    std::string ca;     ///< verifies the listeners' certificates (empty: not verified)
    std::string cert;   ///< a client certificate, for a listener that requires one
    std::string key;

    bool operator==(const probe_settings&) const = default;
};

/// `[archive]`: history kept on disk under `data_dir/archive`, queried by topic and time.
struct archive_settings {
    /// Topic filters whose messages are kept; empty: no archive.
    std::vector<std::string> topics{"devices/+/location", "devices/+/status", "devices/+/events"};
    /// Days older than this are dropped whole ("30d"); 0 ("forever"): kept.
    std::chrono::milliseconds retention{std::chrono::hours{24 * 30}};
    /// The oldest days are dropped while the archive is larger (0: no cap).
    std::uint64_t max_bytes = 0;
    /// How often the compactor writes what the shards handed it.
    std::chrono::milliseconds flush_interval{1000};
    /// Records waiting for the compactor, at most (beyond: dropped, counted, logged).
    std::uint64_t max_pending_bytes = 64u << 20;
    /// The compactor writes only while the archive's disk has this much free (0: always).
    std::uint64_t min_free_disk = 256u << 20;
    /// The numeric fields of a location payload, for /api/v1/devices/{id}/track.
    std::string lat_field = "lat";
    std::string lon_field = "lon";

    bool operator==(const archive_settings&) const = default;
};

/// `[ui]`: the operations console at `/` on the HTTP listeners.
struct ui_settings {
    bool enabled = true;
    /// Map tiles from the agency's own server ("https://tiles.agency.local/{z}/{x}/{y}.png");
    /// empty: the embedded basemap (country outlines and a coordinate grid) only.
    std::string tile_url;
    std::string tile_attribution;  ///< shown on the map under the tiles (their licence)

    bool operator==(const ui_settings&) const = default;
};

/// The origin ("https://tiles.agency.local:8443") of a `tile_url` that parse_settings accepted.
[[nodiscard]] std::string tile_origin(std::string_view tile_url);

/// The most shards (`workers`) a broker runs: the router keeps each filter's subscriber shards
/// in one 64-bit mask (router::max_shards).
constexpr unsigned max_workers = 64;

struct settings {
    unsigned workers = 0;            ///< 0 = one per core, at most max_workers
    std::string data_dir = "./var";  ///< the store (RocksDB)
    durability_mode durability = durability_mode::durable;
    state_settings state;
    archive_settings archive;
    probe_settings probe;
    log::level log_level = log::level::info;
    log::format log_format = log::format::text;       ///< "json": one JSON object per line
    std::chrono::milliseconds stats_interval{60000};  ///< how often a "stats:" line is logged
    std::chrono::milliseconds sys_interval{10000};    ///< how often $SYS topics are published (0, "off": never)
    std::vector<listener_settings> listeners;
    std::vector<http_listener_settings> http_listeners;  ///< default: one on 127.0.0.1:8080
    http_settings http;
    ui_settings ui;
    limits_settings limits;
    auth_settings auth;

    /// `workers` with 0 resolved to the number of cores.
    [[nodiscard]] unsigned resolved_workers() const noexcept;

    bool operator==(const settings&) const = default;
};

/// A configuration problem, with `file:line: ` in its message when it has a place.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The development defaults used when no file is given: one MQTT listener on
/// 127.0.0.1:1883.
[[nodiscard]] settings default_settings();

/// Parses and validates TOML text. Unknown keys and bad values are errors.
/// Errors: throws config_error naming `source:line`.
[[nodiscard]] settings parse_settings(std::string_view toml_text, std::string_view source);

/// Reads and parses a file. Errors: throws config_error.
[[nodiscard]] settings load_settings(const std::filesystem::path& file);

/// Reads a whole text file the configuration names. `what` says what it is for the error.
/// Errors: throws config_error("PATH: cannot open WHAT").
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path, std::string_view what);

/// Calls `f(line, number)` for each line of `text` (numbered from 1, "\r\n" handled).
template <class F>
void for_each_line(std::string_view text, F&& f) {
    std::size_t number = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t nl = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        f(line, number);
    }
}

/// Parses "250ms", "10s", "5m", "2h", "30d". Returns false on anything else.
[[nodiscard]] bool parse_duration(std::string_view text, std::chrono::milliseconds& out) noexcept;

}  // namespace vigil::config
