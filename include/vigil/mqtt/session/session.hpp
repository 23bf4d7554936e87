#pragma once
/// Sans-I/O MQTT 3.1.1 session: packets and deliveries in, actions out.
/// It owns what MQTT calls the session state: subscriptions, QoS 1/2 messages in flight
/// and queued, and the QoS 2 packet ids received and not yet released (§3.1.2.4).

#include <vigil/mqtt/codec/packets.hpp>
#include <vigil/mqtt/codec/errc.hpp>
#include <vigil/mqtt/session/actions.hpp>

#include <boost/container/deque.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace vigil::mqtt {

struct session_limits {
    std::uint16_t max_inflight = 32;                       ///< QoS 1/2 messages sent and not yet acknowledged
    std::size_t max_queued = 10000;                        ///< QoS 1/2 messages waiting behind the window or offline
    std::size_t max_queued_bytes = std::size_t{64} << 20;  ///< their payload bytes
};

/// Checks a CONNECT against the rules a server applies before accepting it: MQTT 3.1.1
/// ("MQTT", level 4), or MQTT 3.1 ("MQIsdp", level 3, whose client id has 1 to 23 characters).
/// Errors: errc::unacceptable_protocol_version (answer CONNACK 0x01),
/// errc::identifier_rejected (answer CONNACK 0x02). Success: accept.
[[nodiscard]] error_code check_connect(const connect_packet& c) noexcept;

/// True for an MQTT 3.1 CONNECT ("MQIsdp", level 3). Its CONNACK has no session-present flag.
[[nodiscard]] bool is_mqtt31(const connect_packet& c) noexcept;

/// Counters a session keeps about messages it could not deliver or was not allowed to send.
struct session_stats {
    std::uint64_t dropped_qos0_offline = 0;
    std::uint64_t dropped_queue_full = 0;
    std::uint64_t denied_publishes = 0;
    std::uint64_t denied_subscriptions = 0;
};

/// What sessions hold, summed over those counted into it (a shard's). The sessions keep it
/// current as they change, so reading it costs the same however many there are.
struct session_totals {
    std::int64_t persistent_online = 0;   ///< persistent sessions with a connection
    std::int64_t persistent_offline = 0;  ///< persistent sessions waiting for their client
    std::int64_t subscriptions = 0;
    std::int64_t queued = 0;        ///< QoS 1/2 messages waiting behind the window or offline
    std::int64_t queued_bytes = 0;  ///< their payload bytes
    std::int64_t inflight = 0;      ///< QoS 1/2 messages sent, not yet acknowledged

    session_totals& operator+=(const session_totals& o) noexcept;
    session_totals& operator-=(const session_totals& o) noexcept;
};

/// What the connected client may do (the ACL, bound to its identity and client id).
/// Thread safety: called on the session's thread only.
class authorizer {
public:
    [[nodiscard]] virtual bool may_publish(std::string_view topic) const = 0;
    /// refused: SUBACK 0x80; checked: granted, the driver checks every message it delivers
    /// through the subscription; full: granted, everything it matches may be read.
    [[nodiscard]] virtual subscribe_grant may_subscribe(std::string_view filter) const = 0;

protected:
    ~authorizer() = default;
};

/// A message of a persistent session as the store kept it (see store_message).
struct restored_message {
    std::uint64_t seq = 0;
    message_ref msg;
    qos q = qos::at_least_once;
    bool retain = false;
    std::uint16_t packet_id = 0;
    bool released = false;
};

/// One client's session. A persistent session reports every change of its durable state
/// (store_message, erase_message, store_inbound actions) so the driver can write it through.
/// Thread safety: distinct objects safe, shared objects unsafe (the broker keeps each on
/// its client's home shard).
class session {
public:
    session(std::string client_id, bool persistent, session_limits lim);
    ~session();                             ///< leaves the totals it is counted in
    session(session&&) noexcept = default;  ///< the totals follow what they count
    session& operator=(session&&) = delete;
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Counts what this session holds into `t` from now on (nullptr: into nothing), taking
    /// it out of the totals it was counted in. `t` must outlive the session or the next call.
    void count_in(session_totals* t) noexcept;

    [[nodiscard]] const std::string& client_id() const noexcept { return client_id_; }
    /// False for a clean session (CleanSession = 1), which ends with its connection.
    [[nodiscard]] bool persistent() const noexcept { return persistent_; }
    [[nodiscard]] bool attached() const noexcept { return attached_; }

    /// Loads the state of a persistent session from the store (before any attach).
    /// `messages` are in sequence order; those with a packet id were in flight.
    void restore(std::vector<restored_message> messages, std::vector<std::uint16_t> inbound,
                 const std::vector<std::pair<std::string, qos>>& subscriptions);

    /// A connection takes this session: re-sends what was in flight (DUP set, PUBRELs
    /// again) and then queued messages, as the window allows [MQTT-4.4.0-1]. `auth`
    /// (nullable: everything allowed) must outlive the attachment.
    void attach(action_list& out, const authorizer* auth = nullptr);
    /// The connection is gone; messages for the session queue up from now on.
    void detach() noexcept {
        const tally t{*this};
        attached_ = false;
        auth_ = nullptr;
    }

    /// Removes the queued messages and those sent but not yet acknowledged (QoS 2: not yet
    /// received) for which `keep(message)` is false: the client may no longer read them.
    /// Persistent sessions report each removal (erase_message). Returns how many went.
    template <class Keep>
    std::size_t drop_unless(Keep&& keep, action_list& out);

    /// Handles a packet received after the CONNECT was accepted.
    void on_packet(const packet& p, action_list& out);

    /// A message routed to this session, at the granted QoS (min of publish and
    /// subscription). `retain` is set for retained messages sent on subscribe.
    void deliver(const message_ref& m, qos q, bool retain, action_list& out);

    using subscription_map = std::map<std::string, qos, std::less<>>;
    [[nodiscard]] const subscription_map& subscriptions() const noexcept { return subs_; }
    /// True when a message at `q` delivered now would be sent at once, not queued.
    [[nodiscard]] bool window_open(qos q) const noexcept {
        return attached_ && (q == qos::at_most_once || (queue_.empty() && inflight_.size() < lim_.max_inflight));
    }
    [[nodiscard]] std::size_t inflight_count() const noexcept { return inflight_.size(); }
    [[nodiscard]] std::size_t queued_count() const noexcept { return queue_.size(); }
    [[nodiscard]] std::size_t queued_bytes() const noexcept { return queued_bytes_; }
    [[nodiscard]] const session_stats& stats() const noexcept { return stats_; }

private:
    /// What this session contributes to its totals.
    [[nodiscard]] session_totals footprint() const noexcept;
    /// Adds what a change did to the session's footprint to its totals: one on the stack of
    /// every public member that changes the session.
    class tally {
    public:
        explicit tally(session& s) noexcept
            : s_(s), before_(s.totals_.p != nullptr ? s.footprint() : session_totals{}) {}
        ~tally() {
            if (s_.totals_.p != nullptr) {
                *s_.totals_.p += s_.footprint();
                *s_.totals_.p -= before_;
            }
        }
        tally(const tally&) = delete;
        tally& operator=(const tally&) = delete;

    private:
        session& s_;
        session_totals before_;
    };
    /// The totals a session is counted in; a moved-from session is counted in none.
    struct counted_in {
        session_totals* p = nullptr;
        counted_in() = default;
        counted_in(counted_in&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
        counted_in& operator=(counted_in&&) = delete;
    };

    enum class out_state : std::uint8_t { awaiting_puback, awaiting_pubrec, awaiting_pubcomp };
    struct inflight_entry {
        std::uint16_t packet_id;
        out_state state;
        qos q;
        bool retain;
        message_ref msg;
        std::uint64_t seq;  // store key of a persistent session's message
    };
    struct queued_entry {
        message_ref msg;
        qos q;
        bool retain;
        std::uint64_t seq;
    };

    void on_publish(const publish_packet& p, action_list& out);
    void on_subscribe(const subscribe_packet& s, action_list& out);
    void on_unsubscribe(const unsubscribe_packet& u, action_list& out);
    void on_puback(std::uint16_t id, action_list& out);
    void on_pubrec(std::uint16_t id, action_list& out);
    void on_pubcomp(std::uint16_t id, action_list& out);
    /// An acknowledgement of the wrong kind for a message in flight with `id`: asks to close
    /// the connection and returns true; false when nothing with `id` is in flight.
    bool wrong_flow(std::uint16_t id, action_list& out);
    void send_new(const message_ref& m, qos q, bool retain, std::uint64_t seq, action_list& out);
    void release_inbound(std::uint16_t id, action_list& out);
    void receive_inbound(std::uint16_t id, bool& first, action_list& out);
    void pump(action_list& out);
    [[nodiscard]] std::uint16_t next_packet_id() noexcept;
    [[nodiscard]] boost::container::deque<inflight_entry>::iterator find_inflight(std::uint16_t id, out_state s);

    std::string client_id_;
    bool persistent_;
    bool attached_ = false;
    const authorizer* auth_ = nullptr;
    session_limits lim_;
    std::uint16_t last_packet_id_ = 0;
    std::uint64_t next_seq_ = 1;
    subscription_map subs_;
    boost::container::deque<inflight_entry> inflight_;  // in send order
    boost::container::deque<queued_entry> queue_;
    std::size_t queued_bytes_ = 0;
    std::unordered_set<std::uint16_t> awaiting_pubrel_;  // QoS 2 received, not released
    session_stats stats_;
    counted_in totals_;
};

template <class Keep>
std::size_t session::drop_unless(Keep&& keep, action_list& out) {
    const tally t{*this};
    std::size_t dropped = 0;
    auto gone = [&](const message_ref& m, std::uint64_t seq) {
        if (!m || keep(*m)) {
            return false;
        }
        if (persistent_) {
            out.push_back(erase_message{seq});
        }
        ++dropped;
        return true;
    };
    for (auto it = queue_.begin(); it != queue_.end();) {
        if (gone(it->msg, it->seq)) {
            queued_bytes_ -= it->msg->payload().size();
            it = queue_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = inflight_.begin(); it != inflight_.end();) {
        // A released QoS 2 message (awaiting PUBCOMP) holds no message: it was received.
        it = gone(it->msg, it->seq) ? inflight_.erase(it) : std::next(it);
    }
    pump(out);
    return dropped;
}

}  // namespace vigil::mqtt
