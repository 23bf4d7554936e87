#pragma once
// One MQTT network connection: reads and decodes packets, drives its client's session,
// writes with one writer and a byte-bounded queue.

#include "shard.hpp"

#include <vigil/core/token_bucket.hpp>
#include <vigil/mqtt/codec/codec.hpp>
#include <vigil/mqtt/session/deadlines.hpp>
#include <vigil/mqtt/session/login.hpp>
#include <vigil/mqtt/session/read_gate.hpp>
#include <vigil/mqtt/session/session_plan.hpp>
#include <vigil/net/tls.hpp>
#include <vigil/net/ws_framing.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/container/deque.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::mqtt {

using tcp = asio::ip::tcp;

/// How the audit lines name who a client logged in as: 'name' (quoted), or anonymous.
[[nodiscard]] std::string identity_of(std::string_view username);

/// Thread safety: shard-affine. Lifetime: owned by its pending handlers (shared_from_this).
class connection final : public std::enable_shared_from_this<connection>, private authorizer {
public:
    /// What a connection carries when it moves to its client id's home shard.
    struct transfer {
        std::vector<std::uint8_t> plaintext;    ///< read, not yet processed (the CONNECT on)
        std::unique_ptr<net::tls_session> tls;  ///< null on a plain listener
        std::vector<std::uint8_t> cipher_out;   ///< TLS bytes produced, not yet written
        std::unique_ptr<net::ws_framing> ws;    ///< MQTT over WebSocket (/mqtt); else null
        net::connection_gate::ticket ticket;    ///< its place in the connection bounds
        int listener = -1;                      ///< the MQTT listener it came through; -1: /mqtt
    };

    /// `t` holds the state carried from another shard (empty for a new connection).
    connection(shard& s, tcp::socket sock, bool allow_anonymous, transfer t);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void start();

    /// Queues a PUBLISH, unless the shard holds it until a commit (shard::hold); QoS 0 is
    /// dropped and counted when the outbound queue is full.
    void send(const send_publish& p);
    /// The same, without asking the shard (it releases what it held).
    void transmit(const send_publish& p);
    /// Closes now: cancels I/O, detaches the session, publishes the will if `reason` says so
    /// (publishes_will).
    void close(error_code reason);
    /// Closes from the next loop pass (used where closing now would re-enter routing).
    void close_later(error_code reason);
    /// Writes what is queued (called by the shard once per loop pass).
    void flush();
    /// A deferred acknowledgement whose writes are committed: send it.
    void release_ack(const packet& p);
    /// The store failed to commit what a deferred acknowledgement covered: close, so the
    /// client sends again to a broker that can keep it.
    void ack_failed();
    /// After a reload: closes (without the will) when the client logged in as one of `users`
    /// with a password, or when its certificate fails against the matching context of
    /// `fresh`. Returns false when it closed.
    bool recheck_credentials(const std::unordered_set<std::string>& users,
                             const std::vector<std::shared_ptr<const net::tls_context>>& fresh);
    /// Fills in where the client is: address, transport, listener, since when.
    void describe(client_info& into) const;

private:
    struct out_item {
        message_ref msg;                     // PUBLISH: shared pre-encoded message
        std::array<std::uint8_t, 16> small;  // PUBLISH: first byte + packet id; else the packet
        std::uint8_t small_len = 0;
        std::vector<std::uint8_t> large;  // control packets over 16 bytes (SUBACK)
        std::uint32_t size = 0;
    };

    /// A CONNECT's fields, owned, while its password is checked off the shard.
    struct accepted_connect {
        std::string client_id;
        bool clean_session = true;
        std::uint16_t keep_alive = 0;
        message_ref will;
        std::string username;      ///< verified, or empty
        bool by_password = false;  ///< verified by its password (else by a certificate, or anonymous)
        bool mqtt31 = false;       ///< an MQTT 3.1 client
    };

    void do_read();
    void on_readable();
    void on_input();
    [[nodiscard]] bool unwrap(std::span<const std::uint8_t> wire);
    void append_rx(std::span<const std::uint8_t> bytes);
    /// Moves what the WebSocket and TLS layers produced on their own (Pong, Close, handshake)
    /// to cipher_out_; take_layer_output also writes it.
    void collect_layer_output();
    void take_layer_output();
    void write_cipher();
    void continue_input();
    void process_input();
    bool handle_first_packet(const packet& p, std::size_t size);
    /// Carries out plan_login's decision.
    void handle_connect(const connect_packet& c);
    /// A cached success, or a password check after the address's failed-login delay.
    void login_with_password(accepted_connect ac, login_check_password p);
    void check_password(accepted_connect ac, const std::string& password);
    void on_authenticated(bool ok, accepted_connect ac);
    void accept(accepted_connect ac);
    void refuse(connect_code code, error_code reason);
    [[nodiscard]] bool may_publish(std::string_view topic) const override;
    [[nodiscard]] subscribe_grant may_subscribe(std::string_view filter) const override;
    /// Vigil's own end-to-end probe: its client id and username, from this host.
    [[nodiscard]] bool is_probe(const accepted_connect& ac);
    /// Why this CONNECT may not have the client id it asks for, or "": the probe's, one that
    /// is not its identity (client_id_must_match), a will it may not publish. plan_session
    /// decides about a session already held under the id.
    [[nodiscard]] std::string session_refusal(const accepted_connect& ac, const auth::permissions* perms);
    void hand_off(unsigned home);
    /// Takes the connection out of the open counts, once.
    void uncount();
    [[nodiscard]] bool tls_identity_as_username() const;
    void execute(action_list& acts);
    void acknowledge(packet p);
    void feed_retained();
    /// Asks gate_ before a read; arms what resumes a pause. True when paused.
    [[nodiscard]] bool must_pause_input();
    /// Every byte this connection holds for the peer, of every layer: queued packets, the
    /// write in progress, and TLS or WebSocket output (handshake, Pongs) not yet written.
    [[nodiscard]] std::size_t pending_out() const noexcept { return out_bytes_ + cipher_out_.size(); }
    /// This connection's transport's counters on its shard.
    [[nodiscard]] transport_stats& traffic() noexcept {
        return shard_.counters().by_transport[static_cast<std::size_t>(transport_)];
    }
    void send_control(const packet& p);
    void push(out_item item);
    struct gathered {
        std::size_t items = 0;  // from the front of outq_
        std::size_t bytes = 0;  // their size on the wire
    };
    /// Builds wbufs_ for the next write (see connection_write.cpp).
    gathered gather();
    void complete_items(std::size_t items);
    void on_write(error_code ec);
    void close_after_flush(error_code reason);
    void arm_timer(std::chrono::steady_clock::time_point deadline);
    /// Arms the timer for the next of deadlines_, if there is one.
    void arm_next_deadline();
    void on_timer(error_code ec);

    enum class phase : std::uint8_t { awaiting_connect, authenticating, active, closing, closed };

    shard& shard_;
    net::connection_gate::ticket ticket_;
    tcp::socket sock_;
    std::string peer_;       // address:port, for logs
    std::string peer_addr_;  // address, for failed-login tracking
    asio::steady_timer timer_;
    asio::steady_timer throttle_timer_;
    token_bucket publish_bucket_;
    phase phase_ = phase::awaiting_connect;
    bool allow_anonymous_;
    std::size_t connect_size_ = 0;  // bytes of the CONNECT held while authenticating
    std::string username_;          // verified username, empty for anonymous clients
    bool password_login_ = false;   // username_ was verified by its password
    std::string quota_owner_;       // what its retained messages count against (see quota_owner)
    client* client_ = nullptr;
    message_ref will_;
    deadlines deadlines_;  // connect, keep-alive and unfinished-packet deadlines; timer_ serves them
    std::optional<std::chrono::steady_clock::time_point> timer_due_;  // when timer_ fires, if armed

    std::vector<std::uint8_t> rx_;
    std::size_t rx_begin_ = 0;
    std::size_t rx_end_ = 0;
    bool read_pending_ = false;  // a read (or TLS readability wait) is outstanding
    read_gate gate_;             // when to stop reading (slow reader, acks, store, publish rate)

    // Durable mode: acks handed to the shard's barrier, and those sent since.
    std::uint64_t acks_deferred_ = 0;
    std::uint64_t acks_released_ = 0;

    /// Retained messages matching a new subscription, sent as the inflight window and the
    /// outbound bound allow (never truncated), after the SUBACK (gate).
    struct retained_cursor {
        std::vector<message_ref> msgs;
        std::size_t next = 0;
        qos q = qos::at_most_once;
        std::uint64_t gate = 0;  // acks_released_ needed before the first one goes out
        bool checked = false;    // the subscription is limited: send only what the client may read
    };
    boost::container::deque<retained_cursor> retained_;

    boost::container::deque<out_item> outq_;
    std::size_t out_bytes_ = 0;
    bool writing_ = false;  // an async_write is in progress
    bool counted_ = true;   // in its transport's and listener's open counts (until handed off or gone)
    bool dirty_ = false;    // queued on the shard's flush list
    bool close_when_flushed_ = false;
    error_code close_reason_;
    std::vector<asio::const_buffer> wbufs_;
    std::unique_ptr<net::tls_session> tls_;
    std::unique_ptr<net::ws_framing> ws_;
    std::vector<std::uint8_t> ws_control_;  // WebSocket control frames on their way into TLS
    std::vector<std::uint8_t>
        cipher_out_;  // produced (TLS records, or plain bytes the kernel did not take), not yet written
    std::vector<std::uint8_t> cipher_writing_;  // the async_write in progress
    int handoff_to_ = -1;                       // a hand-off waiting for a write to finish
    std::vector<std::uint8_t> encode_buf_;
    action_list acts_;
    transport transport_;        // after tls_ and ws_, which decide it; `probe` once its CONNECT says so
    int listener_;               // the MQTT listener it came through; -1: /mqtt on an HTTP listener
    std::int64_t since_ms_ = 0;  // when its CONNECT was accepted (ms since the Unix epoch)
};

}  // namespace vigil::mqtt
