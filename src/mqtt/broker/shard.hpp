#pragma once
// One shard of the broker: its clients (home sessions), its subscriber table, routing.

#include <vigil/auth/acl.hpp>
#include <vigil/auth/authenticator.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/mqtt/broker/broker.hpp>
#include <vigil/mqtt/session/session.hpp>
#include <vigil/router/filter_index.hpp>
#include <vigil/router/local_table.hpp>
#include <vigil/router/retained.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace vigil::mqtt {

namespace asio = boost::asio;

class connection;
class shard;

/// A session and the connection currently attached to it (if any).
struct client {
    session sess;
    connection* conn = nullptr;  // shard-affine; cleared by the connection when it closes
};

/// Failed logins per remote address, shared by every shard (one address's attempts land
/// on many shards). A short lock, never held across I/O.
/// Thread safety: safe.
class login_throttle {
public:
    /// Records a failed login from `address`; returns how long to wait before answering.
    /// The delay doubles with each failure within 10 minutes, from 100 ms up to 5 s.
    [[nodiscard]] std::chrono::milliseconds failed(const std::string& address);
    void succeeded(const std::string& address);

private:
    struct entry {
        unsigned count = 0;
        std::chrono::steady_clock::time_point last;
    };
    std::mutex mu_;
    std::unordered_map<std::string, entry> failures_;  // guarded by mu_
};

/// What every shard shares: configuration, authentication, the global filter index,
/// retained messages.
struct broker_core {
    config::settings settings;
    std::unique_ptr<auth::authenticator> authn;  ///< null without a password file
    // relaxed: a limit check, not synchronisation; a brief overshoot by a few is harmless.
    std::atomic<std::size_t> open_connections{0};
    login_throttle logins;
    router::index_writer index;
    router::retained_store retained;
    std::vector<std::unique_ptr<shard>> shards;
};

/// Counters of one shard (shard-affine; summed by broker::stats on request).
using shard_counters = broker_stats;

/// Thread safety: shard-affine; every member runs on the shard's own thread.
class shard {
public:
    shard(broker_core& core, unsigned id, asio::io_context& ioc);
    ~shard();

    [[nodiscard]] unsigned id() const noexcept { return id_; }
    [[nodiscard]] asio::io_context& context() noexcept { return ioc_; }
    [[nodiscard]] broker_core& core() noexcept { return core_; }
    [[nodiscard]] shard_counters& counters() noexcept { return counters_; }

    /// Buffers shared by every TLS connection of the shard for one read at a time: idle
    /// connections then hold no 16 KiB read buffers of their own.
    [[nodiscard]] std::vector<std::uint8_t>& cipher_scratch() noexcept { return cipher_scratch_; }
    [[nodiscard]] std::vector<std::uint8_t>& plain_scratch() noexcept { return plain_scratch_; }

    /// The ACL in force on this shard (null: none configured). Replaced on reload.
    [[nodiscard]] const auth::acl* acl() const noexcept { return acl_.get(); }
    void set_acl(std::shared_ptr<const auth::acl> a) { acl_ = std::move(a); }

    /// The shard where a client id's session lives.
    [[nodiscard]] unsigned home_of(std::string_view client_id) const noexcept;
    /// A fresh client id whose home is this shard (for zero-length client ids).
    [[nodiscard]] std::string assign_client_id();

    /// Looks up the client with this id, or nullptr.
    [[nodiscard]] client* find_client(const std::string& id);
    /// Creates a client (session); the id must not exist.
    client& create_client(const std::string& id, bool persistent);
    /// Drops a client's subscriptions and the client itself.
    void remove_client(client& c);

    void subscribe(client& c, const std::string& filter, qos q);
    void unsubscribe(client& c, const std::string& filter);

    /// Routes a message published on this shard: retained store, local subscribers,
    /// and one batched hand-off per other shard with matching subscribers.
    void route(const message_ref& m);
    /// Gives one message to one client's session and carries out what it asks.
    void deliver_to(client& c, const message_ref& m, qos q, bool retain);

    /// Schedules `c` to write its queue at the end of this loop pass, so every message that
    /// reached it in the pass goes out in one writev.
    void mark_dirty(std::shared_ptr<connection> c);

    void add_connection(connection* c) { live_.insert(c); }
    void remove_connection(connection* c) { live_.erase(c); }
    /// Closes every connection (no wills): the server is stopping.
    void close_all();



private:
    struct remote_delivery {
        message_ref msg;
        std::shared_ptr<const router::filter_index> index;  // keeps `nodes` alive
        boost::container::small_vector<const router::index_node*, 4> nodes;
    };
    using batch = std::vector<remote_delivery>;

    void deliver_matched(const message_ref& m, const router::index_node* const* nodes, std::size_t count);
    void flush_outboxes();
    void flush_dirty();
    void on_remote(batch b);

    broker_core& core_;
    unsigned id_;
    asio::io_context& ioc_;
    router::snapshot snapshot_;
    router::local_table<client*> table_;
    std::unordered_map<std::string, std::unique_ptr<client>> clients_;
    std::unordered_set<connection*> live_;
    std::vector<batch> outbox_;  // per target shard
    bool flush_scheduled_ = false;
    std::vector<std::shared_ptr<connection>> dirty_;
    std::vector<std::shared_ptr<connection>> flushing_;
    std::vector<std::pair<client*, qos>> targets_;  // scratch for one delivery
    action_list scratch_;                             // scratch for deliver_to
    std::uint64_t next_assigned_id_ = 0;
    std::shared_ptr<const auth::acl> acl_;
    std::vector<std::uint8_t> cipher_scratch_ = std::vector<std::uint8_t>(64 * 1024);
    std::vector<std::uint8_t> plain_scratch_;

    shard_counters counters_;
};

}  // namespace vigil::mqtt
