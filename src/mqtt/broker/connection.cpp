#include "connection.hpp"

#include <vigil/core/log.hpp>

#include <boost/asio/post.hpp>

#include <cstring>
#include <utility>

#include <unistd.h>

namespace vigil::mqtt {
namespace {
/// Durable mode: a client with this many acknowledgements waiting for the store is not
/// read from until half of them went out (its packets wait in the kernel, not here).
constexpr std::uint64_t max_waiting_acks = 1024;
/// The store's queue of uncommitted bytes above which publishers are not read from.
constexpr std::size_t max_store_backlog = std::size_t{64} << 20;

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

connection::connection(shard& s, tcp::socket sock, bool allow_anonymous, transfer t)
    : shard_(s),
      sock_(std::move(sock)),
      timer_(s.context()),
      throttle_timer_(s.context()),
      publish_bucket_(s.core().settings.limits.max_publish_rate, s.core().settings.limits.max_publish_rate),
      allow_anonymous_(allow_anonymous),
      rx_(std::move(t.plaintext)),
      tls_(std::move(t.tls)),
      ws_(std::move(t.ws)),
      cipher_out_(std::move(t.cipher_out)) {
    shard_.core().open_connections.fetch_add(1, std::memory_order_relaxed);
    rx_end_ = rx_.size();

    error_code ec;
    sock_.non_blocking(true, ec);  // flush() writes directly and falls back to async_write
    const auto ep = sock_.remote_endpoint(ec);
    peer_addr_ = ec ? std::string{"?"} : ep.address().to_string();
    peer_ = ec ? std::string{"?"} : fmt::format("{}:{}", peer_addr_, ep.port());
    shard_.add_connection(this);
}

connection::~connection() {
    shard_.core().open_connections.fetch_sub(1, std::memory_order_relaxed);
    shard_.remove_connection(this);
    if (client_ != nullptr && client_->conn == this) {
        client_->conn = nullptr;
        client_->sess.detach();
    }
}

void connection::start() {
    last_rx_ = std::chrono::steady_clock::now();
    arm_timer(last_rx_ + shard_.core().settings.limits.connect_timeout);
    write_cipher();  // TLS bytes carried over from another shard
    if (rx_end_ > 0) {
        process_input();
    }
    if (phase_ == phase::awaiting_connect || phase_ == phase::active) {
        do_read();
    }
}

void connection::do_read() {
    if (read_pending_) {
        return;
    }
    read_pending_ = true;
    // Wait for readability, then read into the shard's shared buffer: an idle connection
    // holds no read buffer of its own, only the bytes of a packet not yet complete.
    sock_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
        self->read_pending_ = false;
        if (self->phase_ == phase::closed || self->phase_ == phase::closing) {
            return;
        }
        if (ec) {
            self->close(ec, true);
            return;
        }
        self->on_readable();
    });
}

void connection::on_readable() {
    auto& cipher = shard_.cipher_scratch();
    error_code ec;
    const std::size_t n = sock_.read_some(asio::buffer(cipher), ec);  // non-blocking socket
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        do_read();
        return;
    }
    if (ec) {
        close(ec, true);
        return;
    }
    std::span<const std::uint8_t> bytes{cipher.data(), n};
    if (tls_) {
        tls_->feed(bytes);
        auto& plain = shard_.plain_scratch();
        plain.clear();
        const bool was_established = tls_->established();
        const error_code tec = tls_->pump(plain);
        take_layer_output();  // handshake flights, session tickets, alerts
        if (tec) {
            if (!was_established) {
                VIGIL_LOG_LIMITED(info, "{}: TLS handshake failed (plaintext on the TLS port, a bad or untrusted client certificate, or no common protocol)", peer_);
            }
            close(tec == asio::error::eof ? tec : make_error_code(errc::malformed_packet), true);
            return;
        }
        if (!tls_->established()) {
            do_read();
            return;
        }
        bytes = plain;
    }
    if (ws_ && !unwrap(bytes)) {
        return;
    }
    if (!ws_) {
        append_rx(bytes);
    }
    on_input();
}

bool connection::unwrap(std::span<const std::uint8_t> wire) {
    auto& frames = shard_.frames_scratch();
    frames.clear();
    const auto st = ws_->feed(wire, frames);
    take_layer_output();  // a Pong, or the reply to a Close
    append_rx(frames);
    if (st == net::ws_framing::status::ok) {
        return true;
    }
    // What came before the Close (a DISCONNECT, say) is handled first.
    on_input();
    if (st == net::ws_framing::status::failed) {
        ++shard_.counters().protocol_errors;
        VIGIL_LOG_LIMITED(info, "{}: WebSocket protocol error: {}", peer_, ws_->failure());
        close(make_error_code(errc::malformed_packet), true);
    } else {
        close(asio::error::eof, true);  // closed without DISCONNECT: the will goes out
    }
    return false;
}

void connection::append_rx(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) {
        return;
    }
    if (rx_begin_ == rx_end_) {
        rx_begin_ = rx_end_ = 0;
    } else if (rx_begin_ > 0 && rx_.size() - rx_end_ < bytes.size()) {
        std::memmove(rx_.data(), rx_.data() + rx_begin_, rx_end_ - rx_begin_);
        rx_end_ -= rx_begin_;
        rx_begin_ = 0;
    }
    if (rx_.size() - rx_end_ < bytes.size()) {
        // At most one read (64 KiB) beyond a partial packet, whose declared size the decoder
        // has checked against max_packet_size: growth is bounded.
        rx_.resize(std::max(rx_end_ + bytes.size(), rx_.size() * 2));
    }
    std::memcpy(rx_.data() + rx_end_, bytes.data(), bytes.size());
    rx_end_ += bytes.size();
}

void connection::take_layer_output() {
    collect_layer_output();
    write_cipher();
}

void connection::collect_layer_output() {
    if (ws_) {
        if (tls_) {
            ws_control_.clear();
            ws_->take_output(ws_control_);
            if (!ws_control_.empty()) {
                (void)tls_->write(ws_control_);  // a failure shows on the next read or write
            }
        } else {
            ws_->take_output(cipher_out_);
        }
    }
    if (tls_) {
        tls_->take_output(cipher_out_);
    }
}

void connection::on_input() {
    if (phase_ == phase::closed || phase_ == phase::closing) {
        return;  // closing: the answer is being flushed and nothing more is read
    }
    last_rx_ = std::chrono::steady_clock::now();
    continue_input();
}

void connection::continue_input() {
    process_input();
    if (phase_ != phase::awaiting_connect && phase_ != phase::active) {
        return;  // closed, closing, or authenticating (reading resumes after the verdict)
    }
    if (must_pause_input()) {
        return;
    }
    if (throttle_wait_ > std::chrono::steady_clock::duration::zero()) {
        // Over max_publish_rate: process and read nothing more until the bucket refills
        // (TCP backpressure slows the device; nothing it sent is dropped).
        ++shard_.counters().publish_throttled;
        VIGIL_LOG_LIMITED(info, "{}: client '{}' is over max_publish_rate: reading paused", peer_, client_ != nullptr ? client_->sess.client_id() : std::string{});
        throttle_timer_.expires_after(throttle_wait_);
        throttle_wait_ = {};
        throttle_timer_.async_wait([self = shared_from_this()](error_code tec) {
            if (!tec && self->phase_ == phase::active) {
                self->continue_input();
            }
        });
        return;
    }
    do_read();
}

bool connection::must_pause_input() {
    if (out_bytes_ > shard_.core().settings.limits.max_outbound_bytes) {
        read_paused_ = true;  // the peer does not read what we send: stop reading from it
        return true;
    }
    if (acks_deferred_ - acks_released_ >= max_waiting_acks) {
        ack_paused_ = true;  // resumed by release_ack
        return true;
    }
    const bool publisher = std::exchange(published_, false);
    if (publisher && shard_.core().db->backlog_bytes() > max_store_backlog) {
        // The disk is behind: a publisher waits (TCP backpressure), nothing is buffered here.
        // Subscribers keep being read: their acknowledgements are what drains queues.
        VIGIL_LOG_LIMITED(warn, "the store is {} MiB behind: pausing reads from publishers", shard_.core().db->backlog_bytes() >> 20);
        throttle_timer_.expires_after(std::chrono::milliseconds{10});
        throttle_timer_.async_wait([self = shared_from_this()](error_code tec) {
            if (!tec && self->phase_ == phase::active) {
                self->continue_input();
            }
        });
        return true;
    }
    return false;
}

void connection::process_input() {
    const codec_limits lim{shard_.core().settings.limits.max_packet_size};
    while ((phase_ == phase::awaiting_connect || phase_ == phase::active) && rx_begin_ < rx_end_) {
        packet p;
        const auto r = decode({rx_.data() + rx_begin_, rx_end_ - rx_begin_}, p, lim);
        if (r.status == decode_status::need_more) {
            return;
        }
        if (r.status == decode_status::failed) {
            ++shard_.counters().protocol_errors;
            close(r.ec, true);
            return;
        }
        if (phase_ == phase::awaiting_connect) {
            if (!handle_first_packet(p, r.consumed)) {
                return;  // handed off, closed, or waiting for the password check
            }
        } else {
            if (std::holds_alternative<publish_packet>(p)) {
                published_ = true;
                if (!publish_bucket_.unlimited()) {
                    throttle_wait_ = publish_bucket_.take(std::chrono::steady_clock::now());
                }
            }
            acts_.clear();
            client_->sess.on_packet(p, acts_);
            execute(acts_);
        }
        rx_begin_ += r.consumed;
        if (throttle_wait_ > std::chrono::steady_clock::duration::zero()) {
            return;  // the rest stays buffered until the publish rate allows it
        }
    }
    if (rx_begin_ == rx_end_ && !rx_.empty()) {
        std::vector<std::uint8_t>{}.swap(rx_);  // all consumed: an idle connection keeps no buffer
        rx_begin_ = rx_end_ = 0;
    }
}

bool connection::handle_first_packet(const packet& p, std::size_t size) {
    const auto* c = std::get_if<connect_packet>(&p);
    if (c == nullptr) {
        ++shard_.counters().protocol_errors;
        close(make_error_code(errc::protocol_violation), false);  // [MQTT-3.1.0-1]
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

void connection::hand_off(unsigned home) {
    // Move the socket (and its TLS state) to the shard that owns this client id, before
    // any session logic, so sessions, takeover and the client registry stay shard-local.
    // The CONNECT is decoded again there from the bytes passed along.
    if (writing_) {
        handoff_to_ = static_cast<int>(home);  // TLS bytes are on their way: move after them
        return;
    }
    transfer t;
    t.plaintext.assign(rx_.begin() + static_cast<std::ptrdiff_t>(rx_begin_), rx_.begin() + static_cast<std::ptrdiff_t>(rx_end_));
    t.tls = std::move(tls_);
    t.cipher_out = std::move(cipher_out_);
    t.ws = std::move(ws_);
    error_code ec;
    const bool v6 = sock_.local_endpoint(ec).address().is_v6();
    const int fd = sock_.release(ec);
    phase_ = phase::closed;
    timer_.cancel();
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
        if (auto* sp = std::get_if<send_packet>(&a)) {
            acknowledge(std::move(sp->p));
        } else if (auto* pub = std::get_if<send_publish>(&a)) {
            send(*pub);
        } else if (auto* r = std::get_if<route_publish>(&a)) {
            shard_.route(r->msg);
        } else if (auto* add = std::get_if<add_subscription>(&a)) {
            shard_.subscribe(*client_, add->filter, add->q);
            if (client_->sess.persistent()) {
                shard_.persist_subscription(*client_, add->filter, add->q);
            }
        } else if (auto* rm = std::get_if<remove_subscription>(&a)) {
            shard_.unsubscribe(*client_, rm->filter);
            if (client_->sess.persistent()) {
                shard_.persist_unsubscription(*client_, rm->filter);
            }
        } else if (auto* dr = std::get_if<deliver_retained>(&a)) {
            auto msgs = shard_.core().retained.match(dr->filter);
            if (!msgs.empty()) {
                retained_.push_back({std::move(msgs), 0, dr->q, acks_deferred_});
            }
        } else if (std::holds_alternative<store_message>(a) || std::holds_alternative<erase_message>(a) ||
                   std::holds_alternative<store_inbound>(a)) {
            shard_.persist(*client_, a);
        } else if (auto* cl = std::get_if<close_connection>(&a)) {
            close(cl->reason, cl->publish_will);
        }
    }
    if (!retained_.empty() && phase_ == phase::active) {
        feed_retained();
    }
}

void connection::acknowledge(packet p) {
    // Durable mode: what acknowledges a QoS 1/2 PUBLISH (or a persistent session's
    // SUBSCRIBE/UNSUBSCRIBE) leaves only once its effects are committed.
    const bool pub_ack = std::holds_alternative<puback_packet>(p) || std::holds_alternative<pubrec_packet>(p) ||
                         std::holds_alternative<pubcomp_packet>(p);
    const bool sub_ack = std::holds_alternative<suback_packet>(p) || std::holds_alternative<unsuback_packet>(p);
    if (!shard_.core().durable || !(pub_ack || (sub_ack && client_->sess.persistent()))) {
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
    if (ack_paused_ && acks_deferred_ - acks_released_ <= max_waiting_acks / 2) {
        ack_paused_ = false;
        continue_input();
    }
    if (!retained_.empty()) {
        feed_retained();
    }
}

void connection::ack_failed() {
    ++acks_released_;
    close(make_error_code(errc::store_failure), false);
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
            shard_.deliver_to(*client_, m, q, true);
        }
        retained_.pop_front();
    }
}

void connection::arm_timer(std::chrono::steady_clock::time_point deadline) {
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_timer(ec); });
}

void connection::on_timer(error_code ec) {
    if (ec || phase_ == phase::closed) {
        return;
    }
    if (phase_ == phase::closing) {
        close(close_reason_, false);  // the peer did not take the final answer in time
        return;
    }
    if (phase_ == phase::awaiting_connect || phase_ == phase::authenticating) {
        close(make_error_code(errc::connect_timeout), false);
        return;
    }
    const auto deadline = last_rx_ + keep_alive_ * 3 / 2;
    if (std::chrono::steady_clock::now() >= deadline) {
        close(make_error_code(errc::keep_alive_timeout), true);  // [MQTT-3.1.2-24]
        return;
    }
    arm_timer(deadline);
}

void connection::close_later(error_code reason, bool publish_will) {
    asio::post(shard_.context(), [self = shared_from_this(), reason, publish_will] {
        self->close(reason, publish_will);
    });
}

void connection::close(error_code reason, bool publish_will) {
    if (phase_ == phase::closed) {
        return;
    }
    phase_ = phase::closed;
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
    if (is_quiet_close(reason)) {
        log::debug("{}: client '{}' disconnected ({})", peer_, id, reason ? reason.message() : "DISCONNECT");
    } else {
        VIGIL_LOG_LIMITED(info, "{}: closing connection of client '{}': {}", peer_, id, reason.message());
    }
    if (client_ != nullptr && client_->conn == this) {
        client_->conn = nullptr;
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
    if (publish_will && will_) {
        shard_.route(will_);  // [MQTT-3.1.2-8]
    }
    will_.reset();  // [MQTT-3.1.2-10]
}

}  // namespace vigil::mqtt
