#pragma once
// One shard of the broker: its clients (home sessions), its subscriber table, routing.

#include <vigil/auth/acl.hpp>
#include <vigil/auth/authenticator.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/core/in_order.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/mqtt/broker/broker.hpp>
#include <vigil/mqtt/session/session.hpp>
#include <vigil/net/gate.hpp>
#include <vigil/net/shard_pool.hpp>
#include <vigil/router/filter_index.hpp>
#include <vigil/router/hub.hpp>
#include <vigil/router/local_table.hpp>
#include <vigil/router/retained.hpp>
#include <vigil/store/store.hpp>

#include "quota.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace vigil::net {
class tls_context;
}

namespace vigil::mqtt {

namespace asio = boost::asio;

class connection;
class shard;

/// A session and the connection currently attached to it (if any).
struct client {
    explicit client(session s) : sess(std::move(s)) {}

    session sess;
    connection* conn = nullptr;  // shard-affine; cleared by the connection when it closes
    std::chrono::steady_clock::time_point detached_at = std::chrono::steady_clock::now();
    router::sink* sink = nullptr;  // a WebSocket push subscriber instead of an MQTT connection
    /// The identity the session belongs to: the verified username or certificate identity,
    /// "" for an anonymous client. Another identity may not use its client id.
    std::string owner;
    /// False for a session restored from a store written before sessions were bound to
    /// identities: the first identity to connect binds it; until then it receives nothing.
    bool owner_known = true;
    /// Its rights under the ACL; null: no ACL (everything may be read).
    std::shared_ptr<const auth::permissions> perms;
    /// may_read's answers by topic, forgotten when the rights change or it grows large.
    std::unordered_map<std::string, bool, router::string_hash, std::equal_to<>> read_cache;
    /// Durable mode: deliveries waiting, in order, behind a QoS 2 message whose writes are
    /// not yet committed (shard::hold); sent by the shard when the commit completes.
    std::deque<send_publish> held;

    /// May a message on `topic` be delivered to this client? One hash lookup once cached.
    [[nodiscard]] bool may_read(std::string_view topic);
    /// May this client publish to `topic` (its will included)? Never to `$` topics.
    [[nodiscard]] bool may_write(std::string_view topic) const;
};

/// Failed logins per remote address, shared by every shard (one address's attempts land
/// on many shards). A short lock, never held across I/O.
/// Thread safety: safe.
class login_throttle {
public:
    /// Records a failed login from `address`.
    void failed(const std::string& address);
    /// How long a login from `address` waits before its password is checked: 0 without
    /// recent failures, then 100 ms doubling with each failure within 10 minutes, up to 5 s.
    [[nodiscard]] std::chrono::milliseconds delay(const std::string& address);
    void succeeded(const std::string& address);

private:
    struct entry {
        unsigned count = 0;
        std::chrono::steady_clock::time_point last;
    };
    mutex mu_;
    std::unordered_map<std::string, entry> failures_ VIGIL_GUARDED_BY(mu_);
};

/// Acknowledgements (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) held in durable mode until
/// the store has committed what their packets changed, on the shard that received them and
/// on every shard a message went to. Each shard holding a reference releases it when its own
/// batch for that loop pass is committed; the last release hands the acks back to the origin
/// shard, which sends them in the order its barriers were created.
/// Thread safety: the reference count and `failed` are safe; `add` on the origin shard only,
/// before the barrier is shared.
class ack_barrier {
public:
    ack_barrier(shard& origin, std::uint64_t seq) : origin_(origin), seq_(seq) {}
    ~ack_barrier();
    ack_barrier(const ack_barrier&) = delete;
    ack_barrier& operator=(const ack_barrier&) = delete;

    void add(std::weak_ptr<connection> c, packet p) { acks_.push_back({std::move(c), std::move(p)}); }
    /// Any other acknowledgement (a WebSocket publish): `done(committed)` on the origin shard.
    void add(std::function<void(bool)> done) { callbacks_.push_back(std::move(done)); }
    void fail() noexcept { failed_.store(true, std::memory_order_relaxed); }

    struct pending_ack {
        std::weak_ptr<connection> conn;
        packet p;
    };

private:
    shard& origin_;
    std::uint64_t seq_;
    std::vector<pending_ack> acks_;
    std::vector<std::function<void(bool)>> callbacks_;
    std::atomic<bool> failed_{false};
};

/// What every shard shares: configuration, authentication, the global filter index,
/// retained messages, last values and the store.
struct broker_core {
    config::settings settings;
    std::unique_ptr<store::store> db;
    bool durable = true;  ///< settings.durability == durable
    /// Set before the shards' io_contexts are destroyed: barriers then post nothing.
    std::atomic<bool> stopping{false};
    router::retained_store last_values;
    std::unique_ptr<auth::authenticator> authn;  ///< null without a password file
    /// Admission of new connections (every listener, TCP, TLS, HTTP and WebSocket).
    std::unique_ptr<net::connection_gate> gate;
    std::unique_ptr<retained_quota> retained_quotas;
    session_owners owners;  ///< persistent sessions per identity
    login_throttle logins;
    router::index_writer index;
    router::retained_store retained;
    std::vector<std::unique_ptr<shard>> shards;
    /// The history archive; null when off or it could not be opened (`history_error` says why).
    std::unique_ptr<archive::archive> history;
    std::string history_error;
    /// Store groups (write_batch::link) of durable QoS 2 messages delivered on several shards.
    std::atomic<std::uint64_t> next_group{0};
    /// The shard threads run (set by broker::start, cleared once they are joined): from then on
    /// a shard's own functions run on its thread only (shard::expect_here).
    std::atomic<bool> running{false};
};

/// How often a shard writes its changed last values to the store.
inline constexpr std::chrono::milliseconds last_value_flush{200};

/// Counters of one shard (shard-affine; summed by broker::stats on request).
using shard_counters = broker_stats;

/// Thread safety: shard-affine; every member runs on the shard's own thread.
class shard {
public:
    shard(broker_core& core, unsigned id, asio::io_context& ioc);
    ~shard();

    [[nodiscard]] unsigned id() const noexcept { return id_; }

    /// Debug builds abort unless this runs on the shard's own thread, or while no shard thread
    /// runs (recovery before start, teardown after); release builds check nothing. `where` is the
    /// caller's name (GCC and Clang builtin: Clang 14 with libstdc++ has no std::source_location).
    void expect_here(const char* where = __builtin_FUNCTION()) const noexcept {
#ifndef NDEBUG
        if (net::shard_pool::current() != static_cast<int>(id_) && core_.running.load(std::memory_order_relaxed)) {
            off_shard(where);
        }
#else
        (void)where;
#endif
    }
    [[nodiscard]] asio::io_context& context() noexcept { return ioc_; }
    [[nodiscard]] broker_core& core() noexcept { return core_; }
    [[nodiscard]] shard_counters& counters() noexcept { return counters_; }

    /// Buffers shared by every TLS connection of the shard for one read at a time: idle
    /// connections then hold no 16 KiB read buffers of their own.
    [[nodiscard]] std::vector<std::uint8_t>& cipher_scratch() noexcept { return cipher_scratch_; }
    [[nodiscard]] std::vector<std::uint8_t>& plain_scratch() noexcept { return plain_scratch_; }
    [[nodiscard]] std::vector<std::uint8_t>& frames_scratch() noexcept { return frames_scratch_; }
    /// Where a connection builds one write (connection::gather); only grows.
    [[nodiscard]] std::vector<std::uint8_t>& write_scratch() noexcept { return write_scratch_; }

    /// Replaces the ACL (null: none) and re-checks every client against it: rights,
    /// subscriptions (checked or not), and queued messages no longer readable (dropped).
    void set_acl(std::shared_ptr<const auth::acl> a);
    /// The rights of `identity` using `client_id` under the ACL in force (null: no ACL).
    [[nodiscard]] std::shared_ptr<const auth::permissions> permissions_for(std::string_view identity,
                                                                           std::string_view client_id) const;
    /// Gives `c` these rights: re-judges its subscriptions and drops what it may no longer
    /// read from its queue. Returns the number of messages dropped.
    std::size_t set_permissions(client& c, std::shared_ptr<const auth::permissions> perms);

    /// The shard where a client id's session lives.
    [[nodiscard]] unsigned home_of(std::string_view client_id) const noexcept;
    /// A fresh client id whose home is this shard (for zero-length client ids).
    [[nodiscard]] std::string assign_client_id();

    /// Looks up the client with this id, or nullptr.
    [[nodiscard]] client* find_client(const std::string& id);
    /// Every client (session) of this shard, by client id.
    [[nodiscard]] const std::unordered_map<std::string, std::unique_ptr<client>>& clients() const noexcept {
        return clients_;
    }
    /// Creates a client (session); the id must not exist.
    client& create_client(const std::string& id, bool persistent);
    /// Drops a client's subscriptions and the client itself.
    void remove_client(client& c);

    void subscribe(client& c, const std::string& filter, qos q, bool checked);
    void unsubscribe(client& c, const std::string& filter);

    /// Routes a message published on this shard by `publisher` (an identity; null: the
    /// server itself): the archive (when its topic is archived), retained store (within the retained quotas and the
    /// disk's free-space mark), local subscribers, and one batched hand-off per other shard with matching subscribers.
    /// `client_id`: the publishing client, recorded in the archive ("" for the server).
    void route(const message_ref& m, const std::string* publisher, std::string_view client_id);
    /// Deletes the retained message of `topic` (memory, quotas, store) without delivering
    /// anything; false when there is none.
    bool erase_retained(const std::string& topic);
    /// A retained QoS 0 message of the broker's own ($SYS): kept in memory and delivered
    /// (where the subscriber may read it), not counted as a client's, stored or archived.
    void publish_system(const message_ref& m);
    /// Hands what this pass routed to the history now, not at the end of the pass (a replay
    /// is about to read it); staged entries go with an early commit of this pass's batch.
    void hand_over_history();
    /// Gives one message to one client's session and carries out what it asks.
    void deliver_to(client& c, const message_ref& m, qos q, bool retain);
    /// Durable mode: whether `p` must wait before it leaves for `c` because its message is a
    /// QoS 2 message whose writes (the publisher's packet id, every shard's queue entries) are
    /// not yet committed, or because an earlier delivery to `c` waits; then `p` is kept in
    /// `c.held` and sent, in order, once the commit completes. So a QoS 2 message reaches no
    /// subscriber before the broker can recognise the publisher's re-sent copy after a crash.
    [[nodiscard]] bool hold(client& c, const send_publish& p);

    // --- Persistence (persist.cpp) ---

    /// The writes of this loop pass; committed as one batch at the end of the pass.
    [[nodiscard]] store::write_batch& batch();
    /// Durable mode: hands `p` back to `c` (connection::release_ack) once this pass's
    /// writes, and those of every shard its messages went to, are committed.
    void defer_ack(connection& c, packet p);
    /// Durable mode: calls `done(committed)` once what this pass routed is committed (at once,
    /// with true, in fast mode).
    void after_commit(std::function<void(bool)> done);
    /// Writes a persistent session's change (store_message, erase_message, store_inbound).
    void persist(const client& c, const action& a);
    void persist_subscription(const client& c, const std::string& filter, qos q);
    void persist_unsubscription(const client& c, const std::string& filter);
    /// The session record (with its will, or none) of a persistent session.
    void persist_session(const client& c, const message_ref& will);
    /// Restores a persistent session from the store (recovery, before the shards run).
    /// `owner`: nullopt for a session stored before sessions were bound to identities.
    client& restore_client(const std::string& id, std::optional<std::string> owner,
                           std::vector<restored_message> messages, std::vector<std::uint16_t> inbound,
                           const std::vector<std::pair<std::string, qos>>& subs);
    /// Sends (or, after a failed commit, closes the connections of) a barrier's acks, in
    /// barrier order. Called on this shard.
    void release(std::uint64_t seq, std::vector<ack_barrier::pending_ack> acks,
                 std::vector<std::function<void(bool)>> callbacks, bool failed);
    /// Writes the last values changed since the previous flush (timer, and at shutdown).
    void flush_last_values();
    /// What this shard's sessions hold now.
    [[nodiscard]] const session_totals& sessions() const noexcept { return sessions_; }

    /// Schedules `c` to write its queue at the end of this loop pass, so every message that
    /// reached it in the pass goes out in one writev.
    void mark_dirty(std::shared_ptr<connection> c);

    void add_connection(connection* c) { live_.insert(c); }
    void remove_connection(connection* c) { live_.erase(c); }
    /// Discards persistent sessions away longer than limits.session_expiry, then again every
    /// tenth of it (at most every minute).
    void start_expiry();
    /// Measures the loop's lag every 250 ms until close_all.
    void start_heartbeat();
    /// The loop's lag so far and the thread's CPU time; on the shard.
    [[nodiscard]] shard_loop_stats loop_stats() const;
    /// When its heartbeat last ran (from any thread): a shard that stops turning stops it.
    [[nodiscard]] std::chrono::steady_clock::time_point last_beat() const noexcept {
        return std::chrono::steady_clock::time_point{
            std::chrono::steady_clock::duration{last_beat_.load(std::memory_order_relaxed)}};
    }
    // --- Push sinks (WebSocket dashboards), shard-affine ---
    void attach_sink(router::sink& s);
    void detach_sink(router::sink& s);
    void subscribe_sink(router::sink& s, std::string_view filter);
    void unsubscribe_sink(router::sink& s, std::string_view filter);

    /// Closes every connection (no wills): the server is stopping.
    void close_all();
    /// After a reload: closes the connections of `users` that logged in with a password
    /// (removed or changed), and those whose client certificate fails against the reloaded
    /// CA bundle and CRL of `fresh` (the context with the same settings as its own).
    /// `fresh`: one TLS context per MQTT listener (null: plain, or it failed to load), then
    /// those of the HTTP listeners.
    void revoke(const std::unordered_set<std::string>& users,
                const std::vector<std::shared_ptr<const net::tls_context>>& fresh);

private:
    [[noreturn]] void off_shard(const char* where) const noexcept;

    struct remote_delivery {
        message_ref msg;
        std::shared_ptr<ack_barrier> barrier;               // durable QoS 1/2: held until this shard commits
        std::uint64_t group = 0;                            // durable QoS 2: the store group of its writes (0: none)
        std::uint32_t parts = 0;                            // shards in that group
        std::shared_ptr<const router::filter_index> index;  // keeps `nodes` alive
        boost::container::small_vector<const router::index_node*, 4> nodes;
    };
    using remote_batch = std::vector<remote_delivery>;

    /// Sends `m` to every subscriber, here and on the other shards.
    void fan_out(const message_ref& m);
    void deliver_matched(const message_ref& m, const router::index_node* const* nodes, std::size_t count);
    void flush_outboxes();
    void flush_dirty();
    void on_remote(remote_batch b);
    /// Hands this pass's archive entries to the archive (end of the pass, and at close_all).
    void hand_to_archive();
    /// Durable QoS 2: `m`'s deliveries on this shard are held until this pass's batch commits.
    void hold_until_commit(const message_ref& m);
    /// The commit of `committed` completed: sends what waited for them.
    void release_held(const std::vector<message_ref>& committed);
    void expire_sessions();
    void update_state(const message_ref& m);
    /// Stores or clears `m` as its topic's retained message, unless a quota or the disk's
    /// free-space mark refuses it (then it is only delivered live).
    void retain(const message_ref& m, const std::string* publisher);
    /// Carries out what a session asked outside a packet (persist, send, close).
    void carry_out(client& c, action_list& acts);
    [[nodiscard]] std::shared_ptr<ack_barrier> current_barrier();
    void schedule_commit();
    void commit();

    broker_core& core_;
    unsigned id_;
    asio::io_context& ioc_;
    router::snapshot snapshot_;
    router::local_table<client*> table_;
    session_totals sessions_;  // what clients_' sessions hold (before them: they leave it when destroyed)
    std::unordered_map<std::string, std::unique_ptr<client>> clients_;
    std::unordered_set<connection*> live_;
    std::vector<remote_batch> outbox_;  // per target shard
    // Messages other shards posted to this one and it has not delivered yet. Relaxed: a gauge.
    std::atomic<std::uint64_t> remote_queued_{0};
    bool flush_scheduled_ = false;
    std::vector<std::shared_ptr<connection>> dirty_;
    std::vector<std::shared_ptr<connection>> flushing_;
    struct delivery_target {
        client* c;
        qos q;
        bool checked;  // every subscription it matched through is checked
    };
    std::vector<delivery_target> targets_;  // scratch for one delivery
    action_list scratch_;                   // scratch for deliver_to
    std::uint64_t next_assigned_id_ = 0;
    std::shared_ptr<const auth::acl> acl_;
    std::vector<std::uint8_t> cipher_scratch_ = std::vector<std::uint8_t>(64 * 1024);
    std::vector<std::uint8_t> plain_scratch_;
    std::vector<std::uint8_t> frames_scratch_;  // MQTT bytes unwrapped from WebSocket frames
    std::vector<std::uint8_t> write_scratch_;   // one write being built

    store::write_batch pass_batch_;
    std::vector<message_ref> last_values_changed_;  // one per topic this shard marked changed
    bool last_values_timer_armed_ = false;
    std::unordered_map<router::sink*, client*> sinks_;
    std::weak_ptr<asio::steady_timer> expiry_timer_;  // owned by its pending handler
    std::weak_ptr<asio::steady_timer> heartbeat_;     // owned by its pending handler
    shard_loop_stats loop_;
    // steady_clock ticks of the last heartbeat; relaxed: a watchdog's reading.
    std::atomic<std::chrono::steady_clock::rep> last_beat_{std::chrono::steady_clock::now().time_since_epoch().count()};
    bool closing_ = false;                            // close_all ran: the server is stopping
    std::vector<std::shared_ptr<ack_barrier>> held_;  // released when pass_batch_ commits
    std::shared_ptr<ack_barrier> barrier_;            // this pass's, created on first use
    std::unordered_set<const message*> uncommitted_;  // durable QoS 2 delivered here, awaiting commit
    std::vector<message_ref> pass_uncommitted_;       // those delivered in this pass
    std::vector<client*> holding_;                    // clients with held deliveries
    std::vector<archive::entry> archive_pass_;        // messages of this pass for the archive
    std::vector<archive::entry> archive_staged_;      // those staged in pass_batch_: handed over once it is submitted
    bool commit_scheduled_ = false;
    std::uint64_t next_barrier_ = 1;
    struct released_barrier {
        std::vector<ack_barrier::pending_ack> acks;
        std::vector<std::function<void(bool)>> callbacks;
        bool failed = false;
    };
    in_order<released_barrier> released_;  // barriers complete in any order; acks leave in theirs

    shard_counters counters_;
};

}  // namespace vigil::mqtt
