// The read side of a connection: readiness, the TLS and WebSocket layers, the pauses that
// push back on a client (publish rate, outbound queue, store backlog), and decoding.
//
// Design note. A connection waits for readability and then reads into its shard's buffer,
// so an idle connection holds no read buffer. What a read brings (after TLS and WebSocket
// unwrapping) is appended to the connection's own buffer, decoded and executed; the buffer
// is emptied once drained and keeps only the bytes of a packet not yet complete.
#include "connection.hpp"

#include <vigil/core/log.hpp>

#include <algorithm>
#include <cstring>

namespace vigil::mqtt {

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
            self->close(ec);
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
        close(ec);
        return;
    }
    traffic().bytes_in += n;
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
                ++shard_.counters().tls_failures;
                VIGIL_LOG_LIMITED(info, "{}: TLS handshake failed: {}", peer_, tls_->failure_reason());
            } else if (!plain.empty()) {
                // What was decrypted before the close_notify (a last PUBLISH, the DISCONNECT)
                // is handled first: a client that said goodbye cleanly loses nothing and
                // leaves no will.
                if (!ws_ || unwrap(plain)) {
                    if (!ws_) {
                        append_rx(plain);
                    }
                    on_input();
                }
            }
            close(tec == asio::error::eof ? tec : make_error_code(errc::malformed_packet));
            return;
        }
        if (!tls_->established()) {
            do_read();
            return;
        }
        shard_.counters().tls_handshakes += was_established ? 0u : 1u;
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
        close(make_error_code(errc::malformed_packet));
    } else {
        close(asio::error::eof);  // closed without DISCONNECT: the will goes out
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
    deadlines_.received(std::chrono::steady_clock::now());
    continue_input();
}

void connection::continue_input() {
    process_input();
    if (phase_ == phase::authenticating) {
        // Waiting for the password check: read on, so a client that goes away is noticed
        // (its check is then dropped), but buffer no more than one packet's worth.
        if (rx_end_ - rx_begin_ < shard_.core().settings.limits.max_packet_size) {
            do_read();
        }
        return;
    }
    if (phase_ != phase::awaiting_connect && phase_ != phase::active) {
        return;  // closed or closing
    }
    if (must_pause_input()) {
        return;
    }
    do_read();
}

bool connection::must_pause_input() {
    const auto resume_after = [this](std::chrono::steady_clock::duration wait) {
        throttle_timer_.expires_after(wait);
        throttle_timer_.async_wait([self = shared_from_this()](error_code tec) {
            if (!tec && self->phase_ == phase::active) {
                self->continue_input();
            }
        });
    };
    switch (gate_.before_read(pending_out(), acks_deferred_ - acks_released_, shard_.core().db->backlog_bytes())) {
        case read_gate::verdict::read:
            return false;
        case read_gate::verdict::slow_reader:  // resumed by on_write as the output drains
        case read_gate::verdict::acks:         // resumed by release_ack
            return true;
        case read_gate::verdict::store_behind:
            VIGIL_LOG_LIMITED(warn, "the store is {} MiB behind: pausing reads from publishers",
                              shard_.core().db->backlog_bytes() >> 20);
            resume_after(read_gate::store_retry);
            return true;
        case read_gate::verdict::publish_rate:
            // TCP backpressure slows the device; nothing it sent is dropped.
            ++shard_.counters().publish_throttled;
            VIGIL_LOG_LIMITED(info, "{}: client '{}' is over max_publish_rate: reading paused", peer_,
                              client_ != nullptr ? client_->sess.client_id() : std::string{});
            resume_after(gate_.take_throttle_wait());
            return true;
    }
    return false;
}

void connection::process_input() {
    const codec_limits lim{shard_.core().settings.limits.max_packet_size};
    bool over_rate = false;
    while ((phase_ == phase::awaiting_connect || phase_ == phase::active) && rx_begin_ < rx_end_) {
        packet p;
        const auto r = decode({rx_.data() + rx_begin_, rx_end_ - rx_begin_}, p, lim);
        if (r.status == decode_status::need_more) {
            if (phase_ == phase::active) {
                // A packet begun must be finished within packet_timeout. The timer is moved
                // only if it would fire later; when it fires it finds what is still due.
                const auto due = deadlines_.packet_begun(std::chrono::steady_clock::now());
                if (!timer_due_ || due < *timer_due_) {
                    arm_timer(due);
                }
            }
            return;
        }
        deadlines_.packet_finished();
        if (r.status == decode_status::failed) {
            ++shard_.counters().protocol_errors;
            close(r.ec);
            return;
        }
        if (phase_ == phase::awaiting_connect) {
            if (!handle_first_packet(p, r.consumed)) {
                return;  // handed off, closed, or waiting for the password check
            }
        } else {
            if (std::holds_alternative<publish_packet>(p)) {
                over_rate = gate_.published(publish_bucket_.unlimited()
                                                ? std::chrono::steady_clock::duration{}
                                                : publish_bucket_.take(std::chrono::steady_clock::now()));
            }
            acts_.clear();
            client_->sess.on_packet(p, acts_);
            execute(acts_);
        }
        rx_begin_ += r.consumed;
        if (over_rate) {
            return;  // the rest stays buffered until the publish rate allows it
        }
    }
    if (rx_begin_ == rx_end_ && !rx_.empty()) {
        std::vector<std::uint8_t>{}.swap(rx_);  // all consumed: an idle connection keeps no buffer
        rx_begin_ = rx_end_ = 0;
    }
}

}  // namespace vigil::mqtt
