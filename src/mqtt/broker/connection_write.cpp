// The write side of a connection: one writer, gather writes, a byte-bounded queue.
//
// Design note. A delivery only appends to the queue and marks the connection dirty; the
// shard flushes dirty connections once per loop pass, so everything that reached a client
// in one pass leaves in few system calls. A write is built in the shard's scratch buffer:
// small packets are copied into it back to back, and only a large payload is sent from the
// message itself, so a write of 3,000 location updates is one buffer, not 9,000 (Asio hands
// at most 64 buffers to one system call: with a buffer per packet part, a write carried 21
// small messages). The flush tries a direct non-blocking write first, which costs one system
// call and no completion handler; what the kernel did not take is copied out of the scratch
// and finished by async_write, and the connection is not flushed again until that completes.
#include "connection.hpp"

#include <vigil/core/log.hpp>

#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

namespace vigil::mqtt {
namespace {
constexpr std::size_t max_bytes_per_write = 256 * 1024;
constexpr std::size_t max_buffers_per_write = 64;  // what Asio passes to one system call
constexpr std::size_t copy_below = 2048;           // larger payloads are not copied
}  // namespace

void connection::send(const send_publish& p) {
    if (phase_ == phase::closed || (client_ != nullptr && shard_.hold(*client_, p))) {
        return;
    }
    transmit(p);
}

void connection::transmit(const send_publish& p) {
    if (phase_ == phase::closed) {
        return;
    }
    const std::size_t size = p.msg->wire_size(p.q);
    if (p.q == qos::at_most_once && out_bytes_ + size > shard_.core().settings.limits.max_outbound_bytes) {
        ++shard_.counters().dropped_qos0_backpressure;
        VIGIL_LOG_LIMITED(warn, "{}: outbound queue full, dropping QoS 0 messages for a slow subscriber", peer_);
        return;
    }
    ++traffic().messages_out[static_cast<std::size_t>(p.q)];
    out_item item;
    item.msg = p.msg;
    item.small[0] = message::first_byte(p.q, p.dup, p.retain);
    item.small[1] = static_cast<std::uint8_t>(p.packet_id >> 8);
    item.small[2] = static_cast<std::uint8_t>(p.packet_id & 0xFF);
    item.small_len = 1;
    item.size = static_cast<std::uint32_t>(size);
    push(std::move(item));
}

void connection::send_control(const packet& p) {
    if (phase_ == phase::closed) {
        return;
    }
    encode_buf_.clear();
    encode(p, encode_buf_);
    out_item item;
    if (encode_buf_.size() <= item.small.size()) {
        std::memcpy(item.small.data(), encode_buf_.data(), encode_buf_.size());
        item.small_len = static_cast<std::uint8_t>(encode_buf_.size());
    } else {
        item.large = encode_buf_;
    }
    item.size = static_cast<std::uint32_t>(encode_buf_.size());
    push(std::move(item));
}

void connection::push(out_item item) {
    out_bytes_ += item.size;
    outq_.push_back(std::move(item));
    if (!writing_ && !dirty_) {
        dirty_ = true;
        shard_.mark_dirty(shared_from_this());
    }
}

connection::gathered connection::gather() {
    // First the extent: which items fit, and how many of their bytes are copied.
    gathered g;
    std::size_t copied = 0;
    std::size_t buffers = 1;
    for (const auto& it : outq_) {
        if (g.items > 0 && g.bytes + it.size > max_bytes_per_write) {
            break;
        }
        const std::size_t by_ref = it.msg && it.msg->payload().size() >= copy_below ? it.msg->payload().size() : 0;
        if (by_ref > 0) {
            if (g.items > 0 && buffers + 2 > max_buffers_per_write) {
                break;
            }
            buffers += 2;  // the payload, and the run of copies after it
        }
        copied += it.size - by_ref;
        g.bytes += it.size;
        ++g.items;
    }
    auto& scratch = shard_.write_scratch();
    if (scratch.size() < copied) {
        scratch.resize(copied);
    }
    std::uint8_t* const base = scratch.data();
    std::size_t off = 0;
    std::size_t run = 0;
    const auto put = [&](const void* data, std::size_t n) {
        std::memcpy(base + off, data, n);
        off += n;
    };
    const auto end_run = [&] {
        if (off > run) {
            wbufs_.emplace_back(base + run, off - run);
        }
        run = off;
    };
    wbufs_.clear();
    auto it = outq_.begin();
    for (std::size_t i = 0; i < g.items; ++i, ++it) {
        if (it->msg) {
            const qos q = static_cast<qos>((it->small[0] >> 1) & 0x3);
            put(it->small.data(), 1);
            const auto prefix = it->msg->publish_prefix(q);
            put(prefix.data(), prefix.size());
            if (q != qos::at_most_once) {
                put(it->small.data() + 1, 2);
            }
            const auto payload = it->msg->payload();
            if (payload.size() >= copy_below) {
                end_run();
                wbufs_.emplace_back(payload.data(), payload.size());
            } else if (!payload.empty()) {
                put(payload.data(), payload.size());
            }
        } else if (!it->large.empty()) {
            put(it->large.data(), it->large.size());
        } else {
            put(it->small.data(), it->small_len);
        }
    }
    end_run();
    return g;
}

void connection::complete_items(std::size_t items) {
    for (std::size_t i = 0; i < items; ++i) {
        out_bytes_ -= outq_.front().size;
        outq_.pop_front();
    }
}

void connection::flush() {
    dirty_ = false;
    write_cipher();  // what a layer produced on its own (a Pong, a Close) goes first
    while (!writing_ && !outq_.empty() && phase_ != phase::closed) {
        const gathered g = gather();
        std::size_t bytes = g.bytes;
        if (ws_) {
            // One binary frame around everything gathered (MQTT over WebSocket).
            const auto h = ws_->header(bytes);
            wbufs_.insert(wbufs_.begin(), asio::const_buffer(h.data(), h.size()));
            bytes += h.size();
        }
        if (tls_) {
            // Encrypt everything gathered into one run of records, then write the
            // ciphertext; SSL_write on memory BIOs never blocks.
            for (const auto& b : wbufs_) {
                if (const error_code ec = tls_->write({static_cast<const std::uint8_t*>(b.data()), b.size()})) {
                    close(ec);
                    return;
                }
            }
            complete_items(g.items);
            tls_->take_output(cipher_out_);
            write_cipher();
            continue;
        }
        error_code ec;
        const std::size_t n = sock_.write_some(wbufs_, ec);  // non-blocking socket
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
            close(ec);
            return;
        }
        traffic().bytes_out += n;
        if (n < bytes) {
            // The kernel took part of it: keep the rest (it may lie in the shard's scratch)
            // before the items go.
            std::size_t skip = n;
            for (const auto& b : wbufs_) {
                const std::size_t take = b.size() > skip ? b.size() - skip : 0;
                const auto* data = static_cast<const std::uint8_t*>(b.data()) + (b.size() - take);
                cipher_out_.insert(cipher_out_.end(), data, data + take);
                skip -= b.size() - take;
            }
        }
        complete_items(g.items);
        write_cipher();
    }
    if (outq_.empty() && close_when_flushed_ && !writing_) {
        close(close_reason_);
        return;
    }
    if (gate_.output_drained(pending_out())) {
        continue_input();
    }
    if (!retained_.empty()) {
        feed_retained();
    }
}

void connection::write_cipher() {
    if (writing_ || cipher_out_.empty() || phase_ == phase::closed) {
        return;
    }
    error_code ec;
    const std::size_t n = sock_.write_some(asio::buffer(cipher_out_), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        close(ec);
        return;
    }
    traffic().bytes_out += n;
    if (n == cipher_out_.size()) {
        cipher_out_.clear();
        return;
    }
    cipher_writing_.assign(cipher_out_.begin() + static_cast<std::ptrdiff_t>(n), cipher_out_.end());
    cipher_out_.clear();
    // Counted until written, so the outbound bound also covers what the kernel did not take.
    out_bytes_ += cipher_writing_.size();
    writing_ = true;
    asio::async_write(sock_, asio::buffer(cipher_writing_),
                      [self = shared_from_this()](error_code wec, std::size_t) { self->on_write(wec); });
}

void connection::on_write(error_code ec) {
    writing_ = false;
    const std::size_t n = cipher_writing_.size();
    out_bytes_ -= std::min(out_bytes_, n);
    cipher_writing_.clear();
    if (phase_ == phase::closed) {
        return;
    }
    if (ec) {
        close(ec);
        return;
    }
    traffic().bytes_out += n;
    if (handoff_to_ >= 0) {
        const auto home = static_cast<unsigned>(handoff_to_);
        handoff_to_ = -1;
        hand_off(home);
        return;
    }
    write_cipher();
    flush();
}

void connection::close_after_flush(error_code reason) {
    close_when_flushed_ = true;
    close_reason_ = reason;
    phase_ = phase::closing;  // keep writing the answer; read nothing more
    if (outq_.empty() && !writing_) {
        close(reason);
    }
}

}  // namespace vigil::mqtt
