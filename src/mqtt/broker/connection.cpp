#include "connection.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/overloaded.hpp>

#include <boost/asio/post.hpp>

#include <utility>

#include <unistd.h>

namespace vigil::mqtt {
namespace {
bool is_quiet_close(const error_code& ec) {
    return !ec || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::operation_aborted || ec == make_error_code(errc::server_shutdown);
}

/// Reads and discards until the peer closes (at most 2 s), then closes the socket.
void linger_close(tcp::socket sock) {
    struct lingerer : std::enable_shared_from_this<lingerer> {
        explicit lingerer(tcp::socket s) : sock(std::move(s)), timer(sock.get_executor()) {}
        void read() {
            sock.async_read_some(asio::buffer(buf), [self = shared_from_this()](error_code ec, std::size_t) {
                if (ec) {
                    self->timer.cancel();
                    error_code ignored;
                    self->sock.close(ignored);
                    return;
                }
                self->read();
            });
        }
        tcp::socket sock;
        asio::steady_timer timer;
        std::array<std::uint8_t, 256> buf{};
    };
    auto l = std::make_shared<lingerer>(std::move(sock));
    l->timer.expires_after(std::chrono::seconds{2});
    l->timer.async_wait([l](error_code ec) {
        if (!ec) {
            error_code ignored;
            l->sock.close(ignored);
        }
    });
    l->read();
}

std::uint16_t ws_close_code(const error_code& reason) {
    if (reason == make_error_code(errc::server_shutdown)) {
        return net::ws_framing::going_away;
    }
    if (reason == make_error_code(errc::malformed_packet) || reason == make_error_code(errc::protocol_violation)) {
        return net::ws_framing::protocol_error;
    }
    return net::ws_framing::normal;
}
}  // namespace

std::string identity_of(std::string_view username) {
    return username.empty() ? std::string{"anonymous"} : fmt::format("'{}'", username);
}

connection::connection(shard& s, tcp::socket sock, bool allow_anonymous, transfer t)
    : shard_(s),
      ticket_(std::move(t.ticket)),
      sock_(std::move(sock)),
      timer_(s.context()),
      throttle_timer_(s.context()),
      publish_bucket_(s.core().settings.limits.max_publish_rate, s.core().settings.limits.max_publish_rate),
      allow_anonymous_(allow_anonymous),
      deadlines_(s.core().settings.limits.connect_timeout, s.core().settings.limits.packet_timeout,
                 std::chrono::steady_clock::now()),
      rx_(std::move(t.plaintext)),
      gate_(s.core().settings.limits.max_outbound_bytes),
      tls_(std::move(t.tls)),
      ws_(std::move(t.ws)),
      cipher_out_(std::move(t.cipher_out)),
      transport_(ws_    ? transport::mqtt_ws
                 : tls_ ? transport::mqtt_tls
                        : transport::mqtt),
      listener_(t.listener) {
    rx_end_ = rx_.size();
    ++traffic().open;
    if (listener_ >= 0) {
        ++shard_.counters().open_by_listener[static_cast<std::size_t>(listener_)];
    }

    error_code ec;
    sock_.non_blocking(true, ec);  // flush() writes directly and falls back to async_write
    const auto ep = sock_.remote_endpoint(ec);
    peer_addr_ = ec ? std::string{"?"} : ep.address().to_string();
    peer_ = ec ? std::string{"?"} : fmt::format("{}:{}", peer_addr_, ep.port());
    shard_.add_connection(this);
}

connection::~connection() {
    uncount();
    shard_.remove_connection(this);
    if (client_ != nullptr && client_->conn == this) {
        client_->conn = nullptr;
        client_->held.clear();
        client_->sess.detach();
    }
}

void connection::start() {
    arm_next_deadline();  // the CONNECT's
    write_cipher();       // TLS bytes carried over from another shard
    if (rx_end_ > 0) {
        process_input();
    }
    if (phase_ == phase::awaiting_connect || phase_ == phase::active) {
        do_read();
    }
}

bool connection::handle_first_packet(const packet& p, std::size_t size) {
    const auto* c = std::get_if<connect_packet>(&p);
    if (c == nullptr) {
        ++shard_.counters().protocol_errors;
        close(make_error_code(errc::protocol_violation));  // [MQTT-3.1.0-1]
        return false;
    }
    const unsigned home = c->client_id.empty() ? shard_.id() : shard_.home_of(c->client_id);
    if (home != shard_.id()) {
        phase_ = phase::closing;  // read and process nothing more here
        hand_off(home);
        return false;
    }
    connect_size_ = size;
    handle_connect(*c);
    return phase_ == phase::active;
}

void connection::uncount() {
    if (!counted_) {
        return;
    }
    counted_ = false;
    --traffic().open;
    if (listener_ >= 0) {
        --shard_.counters().open_by_listener[static_cast<std::size_t>(listener_)];
    }
}

void connection::hand_off(unsigned home) {
    // Move the socket (and its TLS state) to the shard that owns this client id, before
    // any session logic, so sessions, takeover and the client registry stay shard-local.
    // The CONNECT is decoded again there from the bytes passed along.
    if (writing_) {
        handoff_to_ = static_cast<int>(home);  // TLS bytes are on their way: move after them
        return;
    }
    transfer t;
    t.plaintext.assign(rx_.begin() + static_cast<std::ptrdiff_t>(rx_begin_),
                       rx_.begin() + static_cast<std::ptrdiff_t>(rx_end_));
    t.tls = std::move(tls_);
    t.cipher_out = std::move(cipher_out_);
    t.ws = std::move(ws_);
    t.ticket = std::move(ticket_);
    t.listener = listener_;
    error_code ec;
    const bool v6 = sock_.local_endpoint(ec).address().is_v6();
    const int fd = sock_.release(ec);
    phase_ = phase::closed;
    timer_.cancel();
    uncount();  // the connection is the home shard's now, even while this object drains
    if (ec) {
        VIGIL_LOG_LIMITED(warn, "{}: cannot hand the connection to shard {}: {}", peer_, home, ec.message());
        return;
    }
    shard* target = shard_.core().shards[home].get();
    asio::post(target->context(), [target, fd, v6, allow_anonymous = allow_anonymous_, t = std::move(t)]() mutable {
        tcp::socket s(target->context());
        error_code aec;
        s.assign(v6 ? tcp::v6() : tcp::v4(), fd, aec);
        if (aec) {
            ::close(fd);
            return;
        }
        std::make_shared<connection>(*target, std::move(s), allow_anonymous, std::move(t))->start();
    });
}

void connection::execute(action_list& acts) {
    for (auto& a : acts) {
        if (phase_ == phase::closed) {
            return;
        }
        std::visit(overloaded{
                       [&](send_packet& sp) { acknowledge(std::move(sp.p)); },
                       [&](const send_publish& pub) { send(pub); },
                       [&](const route_publish& r) {
                           ++traffic().messages_in[static_cast<std::size_t>(r.msg->published_qos())];
                           shard_.route(r.msg, &quota_owner_, client_->sess.client_id());
                       },
                       [&](const add_subscription& add) {
                           shard_.subscribe(*client_, add.filter, add.q, add.checked);
                           if (client_->sess.persistent()) {
                               shard_.persist_subscription(*client_, add.filter, add.q);
                           }
                       },
                       [&](const remove_subscription& rm) {
                           shard_.unsubscribe(*client_, rm.filter);
                           if (client_->sess.persistent()) {
                               shard_.persist_unsubscription(*client_, rm.filter);
                           }
                       },
                       [&](const deliver_retained& dr) {
                           auto msgs = shard_.core().retained.match(dr.filter);
                           if (!msgs.empty()) {
                               retained_.push_back({std::move(msgs), 0, dr.q, acks_deferred_, dr.checked});
                           }
                       },
                       [&](const store_message&) { shard_.persist(*client_, a); },
                       [&](const erase_message&) { shard_.persist(*client_, a); },
                       [&](const store_inbound&) { shard_.persist(*client_, a); },
                       [&](const close_connection& cl) { close(cl.reason); },
                   },
                   a);
    }
    if (!retained_.empty() && phase_ == phase::active) {
        feed_retained();
    }
}

void connection::acknowledge(packet p) {
    // Durable mode: what acknowledges a QoS 1/2 PUBLISH (or a persistent session's
    // SUBSCRIBE/UNSUBSCRIBE) leaves only once its effects are committed; so does a persistent
    // session's PUBREL, which promises never to send that PUBLISH again [MQTT-4.3.3-1].
    const bool pub_ack = std::holds_alternative<puback_packet>(p) || std::holds_alternative<pubrec_packet>(p) ||
                         std::holds_alternative<pubcomp_packet>(p);
    const bool session_ack = std::holds_alternative<suback_packet>(p) || std::holds_alternative<unsuback_packet>(p) ||
                             std::holds_alternative<pubrel_packet>(p);
    if (!shard_.core().durable || !(pub_ack || (session_ack && client_->sess.persistent()))) {
        send_control(p);
        return;
    }
    ++acks_deferred_;
    shard_.defer_ack(*this, std::move(p));
}

void connection::release_ack(const packet& p) {
    ++acks_released_;
    if (phase_ != phase::active) {
        return;
    }
    send_control(p);
    if (gate_.acks_released(acks_deferred_ - acks_released_)) {
        continue_input();
    }
    if (!retained_.empty()) {
        feed_retained();
    }
}

void connection::ack_failed() {
    ++acks_released_;
    close(make_error_code(errc::store_failure));
}

void connection::feed_retained() {
    const std::size_t high_water = shard_.core().settings.limits.max_outbound_bytes / 2;
    while (!retained_.empty() && phase_ == phase::active) {
        auto& cur = retained_.front();
        if (acks_released_ < cur.gate) {
            return;  // the SUBACK is still waiting for the store
        }
        while (cur.next < cur.msgs.size()) {
            const message_ref& m = cur.msgs[cur.next];
            const qos q = min_qos(m->published_qos(), cur.q);
            if (!client_->sess.window_open(q) || out_bytes_ > high_water) {
                return;  // resumed when acks arrive or the queue drains
            }
            ++cur.next;
            if (cur.checked && !client_->may_read(m->topic())) {
                ++shard_.counters().denied_deliveries;
                continue;
            }
            shard_.deliver_to(*client_, m, q, true);
        }
        retained_.pop_front();
    }
}

void connection::arm_timer(std::chrono::steady_clock::time_point deadline) {
    timer_due_ = deadline;
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_timer(ec); });
}

void connection::on_timer(error_code ec) {
    if (ec || phase_ == phase::closed) {
        return;
    }
    timer_due_.reset();
    if (phase_ == phase::closing) {
        close(close_reason_);  // the peer did not take the final answer in time
        return;
    }
    switch (deadlines_.due(std::chrono::steady_clock::now())) {
        case deadlines::expiry::connect:
            close(make_error_code(errc::connect_timeout));
            return;
        case deadlines::expiry::unfinished_packet:
            ++shard_.counters().packet_timeouts;
            VIGIL_LOG_LIMITED(info, "{}: client '{}' left a packet unfinished for packet_timeout: closing", peer_,
                              client_ != nullptr ? client_->sess.client_id() : std::string{});
            close(make_error_code(errc::packet_timeout));
            return;
        case deadlines::expiry::keep_alive:
            close(make_error_code(errc::keep_alive_timeout));  // [MQTT-3.1.2-24]
            return;
        case deadlines::expiry::none:
            break;
    }
    arm_next_deadline();
}

void connection::arm_next_deadline() {
    if (const auto next = deadlines_.next()) {
        arm_timer(*next);
    }
}

void connection::close_later(error_code reason) {
    asio::post(shard_.context(), [self = shared_from_this(), reason] { self->close(reason); });
}

void connection::close(error_code reason) {
    if (phase_ == phase::closed) {
        return;
    }
    const bool publish_will = publishes_will(reason);
    const bool was_active = phase_ == phase::active;
    phase_ = phase::closed;
    ++shard_.counters().disconnects[static_cast<std::size_t>(reason_of(reason))];
    error_code ignored;
    timer_.cancel();
    throttle_timer_.cancel();
    if ((tls_ || ws_) && !writing_) {
        // Best effort goodbye: a WebSocket Close frame, then TLS close_notify.
        cipher_out_.clear();
        if (ws_) {
            ws_->close(ws_close_code(reason));
        }
        if (tls_) {
            tls_->shutdown();
        }
        collect_layer_output();
        sock_.write_some(asio::buffer(cipher_out_), ignored);
    }
    if (ws_) {
        // RFC 6455 7.1.1: the client answers our Close with its own; reading until it has
        // (or briefly) lets it finish cleanly instead of writing into a reset connection.
        sock_.shutdown(tcp::socket::shutdown_send, ignored);
        linger_close(std::move(sock_));
    } else {
        sock_.shutdown(tcp::socket::shutdown_both, ignored);
        sock_.close(ignored);
    }
    const std::string id = client_ != nullptr ? client_->sess.client_id() : std::string{};
    // The will is checked against the rules in force now (they may have been reloaded).
    const bool will_allowed = publish_will && will_ && client_ != nullptr && client_->may_write(will_->topic());
    if (publish_will && will_ && !will_allowed) {
        ++shard_.counters().denied_publishes;
        VIGIL_LOG_LIMITED(warn, "{}: client '{}' (identity '{}') may no longer publish its will to '{}': not published",
                          peer_, id, username_, will_->topic());
    }
    if (was_active && transport_ != transport::probe) {
        // The audit trail: every client that was connected, with why it left.
        log::info("{}: client '{}' (identity {}) disconnected: {} ({})", peer_, id, identity_of(username_),
                  disconnect_reason_names[static_cast<std::size_t>(reason_of(reason))],
                  reason ? reason.message() : "DISCONNECT");
    } else if (is_quiet_close(reason)) {
        log::debug("{}: client '{}' disconnected ({})", peer_, id, reason ? reason.message() : "DISCONNECT");
    } else {
        VIGIL_LOG_LIMITED(info, "{}: closing connection of client '{}': {}", peer_, id, reason.message());
    }
    if (client_ != nullptr && client_->conn == this) {
        client_->conn = nullptr;
        client_->held.clear();  // a persistent session sends its in-flight messages again on reconnect
        client_->detached_at = std::chrono::steady_clock::now();
        client_->sess.detach();
        if (!client_->sess.persistent()) {
            shard_.remove_client(*client_);
        } else if (will_) {
            shard_.persist_session(*client_, nullptr);  // the will is published or discarded now
        }
    }
    client_ = nullptr;
    outq_.clear();
    out_bytes_ = 0;
    retained_.clear();
    if (will_allowed) {
        // [MQTT-3.1.2-8]; stamped now (it was made at CONNECT), so history and the device
        // views show when the device went away.
        shard_.route(message::make(will_->topic(), will_->payload(), will_->published_qos(), will_->retain()),
                     &quota_owner_, id);
    }
    will_.reset();  // [MQTT-3.1.2-10]
}

}  // namespace vigil::mqtt
