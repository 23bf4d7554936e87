#pragma once
/// The MQTT 3.1.1 broker: listeners, shards, sessions and routing, wired together.

#include <vigil/archive/archive.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/core/histogram.hpp>
#include <vigil/core/message.hpp>
#include <vigil/mqtt/session/ending.hpp>
#include <vigil/mqtt/session/session.hpp>
#include <vigil/net/bound_listener.hpp>
#include <vigil/store/store.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::net {
class connection_gate;
class shard_pool;
struct socket_handover;
}  // namespace vigil::net
namespace vigil::router {
class hub;
}

namespace vigil::mqtt {

using net::bound_listener;

/// How an MQTT connection reaches the broker (its label in the metrics); `probe` is Vigil's own
/// end-to-end probe (its client id and username), counted apart from the users' traffic.
enum class transport : std::uint8_t { mqtt, mqtt_tls, mqtt_ws, probe };
inline constexpr std::array<std::string_view, 4> transport_names{"mqtt", "mqtt-tls", "mqtt-ws", "probe"};

/// A client's session as the admin API shows it.
struct client_info {
    std::string client_id;
    std::string identity;  ///< who owns the session: username or certificate identity ("": anonymous)
    bool online = false;   ///< an MQTT connection is attached
    bool persistent = false;
    // While online:
    std::string address;        ///< the peer's address:port
    std::string transport;      ///< transport_names
    int listener = -1;          ///< index of its MQTT listener; -1: /mqtt on an HTTP listener
    std::int64_t since_ms = 0;  ///< when it logged in (ms since the Unix epoch)
    std::vector<std::pair<std::string, qos>> subscriptions;
    std::size_t queued = 0;    ///< messages waiting to be sent
    std::size_t inflight = 0;  ///< sent, not yet acknowledged
};

/// MQTT traffic of one transport.
struct transport_stats {
    std::int64_t open = 0;                        ///< connections open now
    std::array<std::uint64_t, 3> messages_in{};   ///< client PUBLISHes, by QoS
    std::array<std::uint64_t, 3> messages_out{};  ///< PUBLISHes queued to clients, by QoS
    std::uint64_t bytes_in = 0;                   ///< read from the sockets (TLS and WebSocket framing included)
    std::uint64_t bytes_out = 0;                  ///< written to the sockets
};

/// One shard's event loop: how late a timer due every 250 ms ran (the time a message waits
/// behind whatever the shard is doing), and the shard thread's CPU time (its busy share).
struct shard_loop_stats {
    histogram<duration_bounds> lag_seconds;  ///< how late each run of a 250 ms timer was
    double cpu_seconds = 0;
    std::uint64_t remote_queued = 0;  ///< messages other shards handed it, not yet delivered
};

/// Counters of the whole broker (sums over the shards): what every limit and failure did.
struct broker_stats {
    std::uint64_t open_connections = 0;      ///< MQTT and HTTP (WebSockets included)
    std::uint64_t connections_accepted = 0;  ///< CONNECTs accepted
    std::uint64_t publishes_in = 0;          ///< messages routed (client PUBLISH and wills)
    std::uint64_t deliveries = 0;            ///< messages handed to sessions
    std::uint64_t dropped_qos0_backpressure = 0;
    std::uint64_t dropped_queue_full = 0;  ///< QoS 1/2 messages for a session whose queue was full (max_queued)
    std::uint64_t dropped_qos0_offline =
        0;  ///< QoS 0 messages for an offline persistent session (not kept, as MQTT allows)
    std::uint64_t protocol_errors = 0;
    std::uint64_t auth_failures = 0;
    std::uint64_t auth_busy = 0;              ///< CONNACK 0x03: the password-check queue was full
    std::uint64_t auth_hashed = 0;            ///< password checks hashed
    std::uint64_t auth_dropped = 0;           ///< password checks dropped: their clients had gone
    std::uint64_t auth_queued = 0;            ///< password checks waiting now
    histogram<duration_bounds> auth_seconds;  ///< each hashed check, from queued to verdict
    std::uint64_t denied_publishes = 0;
    std::uint64_t denied_deliveries = 0;      ///< messages withheld: the subscriber may not read the topic
    std::uint64_t denied_connects = 0;        ///< CONNECTs refused by the ACL or session ownership
    std::uint64_t rejected_connections = 0;   ///< over max_connections or max_connection_rate
    std::uint64_t publish_throttled = 0;      ///< reads paused by max_publish_rate
    session_totals sessions;                  ///< what every session (MQTT and /ws) holds
    std::uint64_t sessions_expired = 0;       ///< persistent sessions discarded by session_expiry
    std::uint64_t retained = 0;               ///< retained messages held
    std::uint64_t retained_bytes = 0;         ///< their topics and payloads
    std::uint64_t retained_refused = 0;       ///< retained messages not stored (quota, disk low)
    std::uint64_t subscriptions_refused = 0;  ///< over max_subscriptions
    std::uint64_t sessions_refused = 0;       ///< persistent sessions over max_sessions_per_identity
    std::uint64_t packet_timeouts = 0;        ///< connections closed: a packet not completed in packet_timeout
    std::uint64_t last_values = 0;            ///< topics in the last-value cache
    std::uint64_t last_value_bytes = 0;       ///< their topics and payloads
    std::uint64_t tls_handshakes = 0;         ///< MQTT TLS handshakes completed
    std::uint64_t tls_failures = 0;           ///< MQTT TLS handshakes that failed (bad certificate, protocol, ...)
    /// The store (group commit): writes, batches from shards, failures, commit time.
    store::store_stats store;
    bool store_healthy = true;
    /// The push gateway (/ws dashboards): open now, live messages queued, state values
    /// replaced for slow dashboards (conflated), dashboards closed with 1013 (too far behind).
    std::int64_t ws_open = 0;
    std::uint64_t ws_sent = 0;
    std::uint64_t ws_conflated = 0;
    std::uint64_t ws_too_slow = 0;
    std::array<transport_stats, transport_names.size()> by_transport{};
    /// MQTT connections open per MQTT listener (in the order of broker::listeners()); those of
    /// /mqtt on the HTTP listeners are not among them.
    std::vector<std::int64_t> open_by_listener;
    std::array<std::uint64_t, disconnect_reason_names.size()> disconnects{};
    /// Shards that did not answer within the time stats() waits (their counters are missing).
    std::uint64_t shards_unresponsive = 0;
    /// Each shard's loop, by shard number (empty for a shard that did not answer).
    std::vector<shard_loop_stats> loops;
    /// The history archive (all zero when it is off).
    bool archive_on = false;
    archive::archive_stats archive;
};

/// What /healthz reports; cheap and safe from any thread.
struct broker_health {
    bool store_ok = true;
    std::string store_error;  ///< why the store is failing, if it is
    /// The history archive: off (no `[archive] topics`), ok, or degraded (with why: it could
    /// not be opened, or writes fail); live traffic does not depend on it.
    enum class archive_state : std::uint8_t { off, ok, degraded } archive = archive_state::off;
    std::string archive_error;
    std::uint64_t open_connections = 0;
};

/// Thread safety: construct, start and stop from one thread (main); health, last_values,
/// history and stats from any thread (stats not from a shard's).
class broker {
public:
    /// Opens the store under settings.data_dir and restores retained messages, last values
    /// and persistent sessions (logging what and how long); no listener is open yet.
    /// Errors: throws store::store_error naming data_dir and what to do.
    explicit broker(const config::settings& s);
    ~broker();
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    /// Binds every listener and starts the shard threads.
    /// Errors: throws std::system_error naming the address that could not be bound.
    void start();

    [[nodiscard]] const std::vector<bound_listener>& listeners() const noexcept;

    /// Reloads the password file, the ACL and the TLS certificates, CA bundles and CRLs
    /// (SIGHUP), from the paths of `next` (config::plan_reload's: only those may differ from
    /// the settings in force). Established connections stay unless what they logged in with
    /// was revoked; a file that fails to load leaves the previous state in force and logs why.
    void reload(const config::settings& next);

    /// The shards, for other front doors (HTTP) to run on.
    [[nodiscard]] net::shard_pool& shards() noexcept;

    /// Routing for the WebSocket push gateway's connections (calls from shard threads).
    [[nodiscard]] router::hub& push() noexcept;

    /// MQTT over WebSocket: serves a connected socket whose HTTP upgrade to the `mqtt`
    /// subprotocol is done, on the calling shard thread, exactly like a connection from an
    /// MQTT listener (it keeps the place in the connection bounds it took at accept).
    void adopt_websocket(net::socket_handover h);

    /// Admission of every connection (MQTT and HTTP): max_connections and
    /// max_connections_per_address. The HTTP front door takes its places here too.
    [[nodiscard]] net::connection_gate& gate() noexcept;

    [[nodiscard]] broker_health health() const;

    /// The last value of every `state.topics` topic matching `filter` (a snapshot).
    [[nodiscard]] std::vector<message_ref> last_values(std::string_view filter) const;

    /// The archived messages matching `q` that `may_read(topic)` allows; nullopt when there is
    /// no archive (off, or it could not be opened). Reads the disk: call it off the shards.
    [[nodiscard]] std::optional<archive::page> history(const archive::query& q,
                                                       const std::function<bool(std::string_view)>& may_read) const;

    /// A backup of the hot store into the backup directory `dir`, and of the archive into
    /// `archive_dir` when the archive is on (store::store::backup, archive::archive::backup),
    /// in that order: a record the archive takes over between the two is then in both, never
    /// in neither. The archive's backup is labelled "store backup ID". From any thread but a shard's; the broker keeps
    /// serving meanwhile. Errors: throws rocks::backup_error.
    struct backup_result {
        rocks::backup_info store;
        std::optional<rocks::backup_info> archive;
    };
    [[nodiscard]] backup_result backup(const std::filesystem::path& dir, const std::filesystem::path& archive_dir,
                                       std::string_view label) const;

    // --- Administration (from any thread but a shard's; each waits at most 2 s per shard) ---

    /// How an administrative change ended: carried out, nothing to act on, or a shard that did
    /// not answer in time (the change may still take place).
    enum class admin_result : std::uint8_t { done, not_found, no_answer };
    struct client_list {
        std::vector<client_info> clients;  ///< the first `limit` by client id
        std::size_t total = 0;             ///< connected in all
        bool complete = true;              ///< false: a shard did not answer (its clients are missing)
    };
    /// The MQTT clients connected now.
    [[nodiscard]] client_list connected_clients(std::size_t limit) const;
    /// The session of `client_id`, online or a persistent one offline (`session` when done).
    struct session_lookup {
        admin_result result = admin_result::not_found;
        client_info session;
    };
    [[nodiscard]] session_lookup find_session(const std::string& client_id) const;
    /// Closes the connection of `client_id` (its will is published: it did not say goodbye)
    /// and, with `discard`, discards its session; not_found when it has neither.
    [[nodiscard]] admin_result disconnect_client(const std::string& client_id, bool discard) const;
    /// The retained messages matching `filter`.
    [[nodiscard]] std::vector<message_ref> retained(std::string_view filter) const;
    /// Deletes the retained message of `topic`, from memory and the store; nothing is
    /// delivered, last values and history are untouched. not_found when there is none.
    [[nodiscard]] admin_result clear_retained(const std::string& topic) const;

    /// Sums the shards' counters (asks each shard on its own thread and waits, at most 2 s:
    /// shards that did not answer are counted in shards_unresponsive). From any thread but a
    /// shard's.
    [[nodiscard]] broker_stats stats() const;
    /// The shards whose 250 ms heartbeat has not run for `longer_than` (a wedged shard): never
    /// blocks, from any thread.
    [[nodiscard]] std::vector<unsigned> stalled_shards(std::chrono::milliseconds longer_than) const;

    /// Publishes the broker's own messages (`$SYS/...`: topic, payload) as retained QoS 0,
    /// kept in memory, to the subscribers that may read them; from any thread.
    void publish_system(std::vector<std::pair<std::string, std::string>> values);

    /// Closes listeners and connections, then stops the shards within `grace`.
    void stop(std::chrono::milliseconds grace);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::mqtt
