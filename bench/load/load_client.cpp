#include "load_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <cstring>

namespace vigil::bench {

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

load_client::load_client(asio::io_context& ioc, tcp::endpoint ep, std::string id, observations* obs, std::size_t publishers)
    : sock_(ioc), ep_(ep), id_(std::move(id)), obs_(obs), last_seq_(publishers, 0), rx_(1 << 16) {}

void load_client::start(std::function<void()> done) {
    on_connack_ = std::move(done);
    sock_.async_connect(ep_, [self = shared_from_this()](boost::system::error_code ec) {
        if (ec) {
            std::fprintf(stderr, "connect %s: %s\n", self->id_.c_str(), ec.message().c_str());
            std::exit(1);
        }
        self->sock_.set_option(tcp::no_delay(true));
        mqtt::connect_packet c;
        c.client_id = self->id_;
        c.clean_session = true;
        mqtt::encode(c, self->pending_);
        self->flush();
        self->do_read();
    });
}

void load_client::subscribe(const std::string& filter, qos q, std::function<void()> done) {
    on_suback_ = std::move(done);
    mqtt::subscribe_packet s{1, {{filter, q}}};
    mqtt::encode(s, pending_);
    flush();
}

void load_client::publish(const std::string& topic, std::uint32_t publisher, std::size_t payload_size, std::size_t count, bool json) {
    std::vector<std::uint8_t> payload(std::max(payload_size, header_bytes), 'x');
    for (std::size_t i = 0; i < count; ++i) {
        const std::int64_t t = now_ns();
        const std::uint32_t seq = ++seq_;
        if (json) {
            std::string j = "{\"t\":" + std::to_string(t) + ",\"p\":" + std::to_string(publisher) + ",\"s\":" + std::to_string(seq) + ",\"x\":\"";
            j.append(payload_size > j.size() + 2 ? payload_size - j.size() - 2 : 0, 'x');
            j += "\"}";
            mqtt::publish_packet p{topic, {reinterpret_cast<const std::uint8_t*>(j.data()), j.size()}, qos::at_most_once, false, false, 0};
            mqtt::encode(p, pending_);
            continue;
        }
        std::memcpy(payload.data(), &t, 8);
        std::memcpy(payload.data() + 8, &publisher, 4);
        std::memcpy(payload.data() + 12, &seq, 4);
        mqtt::publish_packet p{topic, payload, qos::at_most_once, false, false, 0};
        mqtt::encode(p, pending_);
    }
    flush();
}

void load_client::flush() {
    if (!writing_.empty() || pending_.empty() || !sock_.is_open()) {
        return;
    }
    writing_.swap(pending_);
    asio::async_write(sock_, asio::buffer(writing_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
        self->writing_.clear();
        if (!ec) {
            self->flush();
        }
    });
}

void load_client::do_read() {
    if (rx_len_ == rx_.size()) {
        rx_.resize(rx_.size() * 2);
    }
    sock_.async_read_some(asio::buffer(rx_.data() + rx_len_, rx_.size() - rx_len_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        if (ec) {
            return;
        }
        self->rx_len_ += n;
        std::size_t off = 0;
        const mqtt::codec_limits lim{1 << 24};
        for (;;) {
            mqtt::packet p;
            const auto r = mqtt::decode({self->rx_.data() + off, self->rx_len_ - off}, p, lim);
            if (r.status != mqtt::decode_status::complete) {
                break;
            }
            self->on_packet(p);
            off += r.consumed;
        }
        std::memmove(self->rx_.data(), self->rx_.data() + off, self->rx_len_ - off);
        self->rx_len_ -= off;
        self->do_read();
    });
}

void load_client::on_packet(const mqtt::packet& p) {
    if (std::holds_alternative<mqtt::connack_packet>(p) && on_connack_) {
        auto f = std::move(on_connack_);
        f();
        return;
    }
    if (std::holds_alternative<mqtt::suback_packet>(p) && on_suback_) {
        auto f = std::move(on_suback_);
        f();
        return;
    }
    const auto* pub = std::get_if<mqtt::publish_packet>(&p);
    if (pub == nullptr || pub->payload.size() < header_bytes || obs_ == nullptr || pub->payload[0] == '{') {
        return;  // JSON payloads are timed by the WebSocket dashboards
    }
    std::int64_t t = 0;
    std::uint32_t publisher = 0;
    std::uint32_t seq = 0;
    std::memcpy(&t, pub->payload.data(), 8);
    std::memcpy(&publisher, pub->payload.data() + 8, 4);
    std::memcpy(&seq, pub->payload.data() + 12, 4);
    obs_->latency_us.push_back(static_cast<std::uint32_t>((now_ns() - t) / 1000));
    ++obs_->received;
    if (publisher < last_seq_.size()) {
        if (seq <= last_seq_[publisher]) {
            ++obs_->out_of_order;
        }
        last_seq_[publisher] = seq;
    }
}

void load_client::close() {
    boost::system::error_code ignored;
    sock_.close(ignored);
}

}  // namespace vigil::bench
