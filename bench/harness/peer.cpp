#include "peer.hpp"

#include <vigil/mqtt/codec/codec.hpp>

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdio>

namespace vigil::bench {

void make_payload(const stamp& s, std::size_t size, std::string& out) {
    // to_chars, not printf: the generator formats every message it sends.
    auto num = [&out](auto v) {
        char b[24];
        out.append(b, std::to_chars(b, b + sizeof b, v).ptr);
    };
    out.assign(R"({"t":)");
    num(static_cast<long long>(s.t));
    out += R"(,"d":)";
    num(s.device);
    out += R"(,"k":)";
    num(s.stream);
    out += R"(,"s":)";
    num(s.seq);
    out += R"(,"x":")";
    out.append(size > out.size() + 2 ? size - out.size() - 2 : 0, 'x');
    out += "\"}";
}

namespace {
/// Reads the number after `key` at `pos`; advances `pos`.
template <class T>
bool field(std::string_view text, std::size_t& pos, std::string_view key, T& out) {
    if (text.compare(pos, key.size(), key) != 0) {
        return false;
    }
    pos += key.size();
    const auto r = std::from_chars(text.data() + pos, text.data() + text.size(), out);
    if (r.ec != std::errc{}) {
        return false;
    }
    pos = static_cast<std::size_t>(r.ptr - text.data());
    return true;
}
}  // namespace

bool parse_stamp(std::string_view text, stamp& out) {
    std::size_t pos = 0;
    long long t = 0;
    return field(text, pos, R"({"t":)", t) && field(text, pos, R"(,"d":)", out.device) &&
           field(text, pos, R"(,"k":)", out.stream) && field(text, pos, R"(,"s":)", out.seq) &&
           (out.t = t, out.stream >= 0) && out.stream < streams;
}

void recipient::on_stamp(const stamp& s, std::int64_t now, std::uint64_t conflated) {
    const std::size_t key = std::size_t{s.device} * streams + static_cast<std::size_t>(s.stream);
    if (key >= last_seq.size()) {
        return;
    }
    if (rec == nullptr || s.t < window_start) {
        last_seq[key] = std::max(last_seq[key], s.seq);
        return;
    }
    if (s.seq <= last_seq[key]) {
        ++rec->duplicates[static_cast<std::size_t>(s.stream)];
        return;
    }
    last_seq[key] = s.seq;
    rec->add(s.t, now, window_start, s.stream);
    rec->conflated += conflated;
}

peer::peer(asio::io_context& ioc, tcp::endpoint ep, asio::ssl::context& ctx, bool tls, std::string id,
           std::optional<will_msg> will, recipient* r, login who, std::string server_name)
    : stream_(ioc, ctx),
      tls_(tls),
      ep_(ep),
      id_(std::move(id)),
      will_(std::move(will)),
      recipient_(r),
      login_(std::move(who)),
      server_name_(std::move(server_name)),
      rx_(1 << 14) {}

template <class Buffers, class Handler>
void peer::read_some(const Buffers& b, Handler&& h) {
    if (tls_) {
        stream_.async_read_some(b, std::forward<Handler>(h));
    } else {
        stream_.next_layer().async_read_some(b, std::forward<Handler>(h));
    }
}

template <class Buffers, class Handler>
void peer::write_all(const Buffers& b, Handler&& h) {
    if (tls_) {
        asio::async_write(stream_, b, std::forward<Handler>(h));
    } else {
        asio::async_write(stream_.next_layer(), b, std::forward<Handler>(h));
    }
}

void peer::connect(std::function<void(bool, std::uint32_t)> done) {
    on_connack_ = std::move(done);
    connect_start_ = now_ns();
    if (tls_ && !prepare_tls()) {
        return;
    }
    stream_.next_layer().async_connect(ep_, [self = shared_from_this()](boost::system::error_code ec) {
        if (ec) {
            self->fail("connect: " + ec.message());
            return;
        }
        boost::system::error_code ignored;
        self->stream_.next_layer().set_option(tcp::no_delay(true), ignored);
        if (!self->tls_) {
            self->send_connect();
            return;
        }
        self->stream_.async_handshake(asio::ssl::stream_base::client, [self](boost::system::error_code hec) {
            if (hec) {
                self->fail("TLS handshake: " + hec.message());
                return;
            }
            self->send_connect();
        });
    });
}

bool peer::prepare_tls() {
    SSL* ssl = stream_.native_handle();
    if (!server_name_.empty()) {
        boost::system::error_code not_ip;
        (void)asio::ip::make_address(server_name_, not_ip);
        const bool ip = !not_ip;
        if (!ip) {
            // SSL_set_tlsext_host_name, without its macro's C cast.
            SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(server_name_.c_str()));
        }
        X509_VERIFY_PARAM* vp = SSL_get0_param(ssl);
        if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, server_name_.c_str())
                : X509_VERIFY_PARAM_set1_host(vp, server_name_.c_str(), 0)) != 1) {
            fail("TLS: cannot check the server's certificate against " + server_name_);
            return false;
        }
    }
    if (login_.cert &&
        (SSL_use_certificate(ssl, login_.cert.get()) != 1 || SSL_use_PrivateKey(ssl, login_.key.get()) != 1)) {
        fail("TLS: cannot use the client certificate of " + id_);
        return false;
    }
    return true;
}

void peer::send_connect() {
    mqtt::connect_packet c;
    c.client_id = id_;
    if (!login_.username.empty()) {
        c.username = login_.username;
        c.password = std::span<const std::uint8_t>{reinterpret_cast<const std::uint8_t*>(login_.password.data()),
                                                   login_.password.size()};
    }
    c.clean_session = true;
    c.keep_alive = 300;
    if (will_) {
        c.will = mqtt::will_spec{will_->topic,
                                 {reinterpret_cast<const std::uint8_t*>(will_->payload.data()), will_->payload.size()},
                                 qos::at_least_once,
                                 true};
    }
    mqtt::encode(c, pending_);
    flush();
    do_read();
}

void peer::fail(std::string why) {
    if (closed_) {
        return;
    }
    if (error_.empty()) {
        error_ = std::move(why);
    }
    closed_ = true;
    connected_ = false;
    boost::system::error_code ignored;
    stream_.next_layer().close(ignored);
    if (on_connack_) {
        auto f = std::move(on_connack_);
        f(false, 0);
    }
}

void peer::subscribe(const std::vector<std::string>& filters, int q, std::function<void()> done) {
    on_suback_ = std::move(done);
    mqtt::subscribe_packet s;
    s.packet_id = 1;
    for (const auto& f : filters) {
        s.topics.push_back({f, static_cast<qos>(q)});
    }
    mqtt::encode(s, pending_);
    flush();
}

void peer::publish(std::string_view topic, std::string_view payload, int q, bool retain) {
    if (closed_) {
        return;
    }
    mqtt::publish_packet p{topic,
                           {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                           static_cast<qos>(q),
                           retain,
                           false,
                           0};
    if (q > 0) {
        next_id_ = static_cast<std::uint16_t>(next_id_ == 0xFFFF ? 1 : next_id_ + 1);
        p.packet_id = next_id_;
    }
    mqtt::encode(p, pending_);
}

void peer::flush() {
    if (!writing_.empty() || pending_.empty() || closed_) {
        return;
    }
    writing_.swap(pending_);
    write_all(asio::buffer(writing_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
        self->writing_.clear();
        if (ec) {
            self->fail("write: " + ec.message());
            return;
        }
        self->flush();
    });
}

void peer::drop() {
    closed_ = true;
    connected_ = false;
    boost::system::error_code ignored;
    stream_.next_layer().close(ignored);
}

void peer::do_read() {
    if (rx_len_ == rx_.size()) {
        rx_.resize(rx_.size() * 2);
    }
    read_some(
        asio::buffer(rx_.data() + rx_len_, rx_.size() - rx_len_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            if (ec) {
                self->fail(self->connected_ ? "read: " + ec.message() : "closed before CONNACK: " + ec.message());
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
                if (const auto* pub = std::get_if<mqtt::publish_packet>(&p)) {
                    stamp s;
                    if (self->recipient_ != nullptr &&
                        parse_stamp({reinterpret_cast<const char*>(pub->payload.data()), pub->payload.size()}, s)) {
                        self->recipient_->on_stamp(s, now_ns());
                    }
                    if (pub->q == qos::at_least_once) {
                        mqtt::encode(mqtt::puback_packet{pub->packet_id}, self->pending_);
                    }
                } else if (std::holds_alternative<mqtt::connack_packet>(p)) {
                    const auto code = std::get<mqtt::connack_packet>(p).code;
                    const bool ok = code == mqtt::connect_code::accepted;
                    self->connected_ = ok;
                    if (!ok && self->error_.empty()) {
                        self->error_ = "CONNACK return code " + std::to_string(static_cast<int>(code)) + " (refused)";
                    }
                    if (self->on_connack_) {
                        auto f = std::move(self->on_connack_);
                        f(ok, static_cast<std::uint32_t>((now_ns() - self->connect_start_) / 1000));
                    }
                } else if (std::holds_alternative<mqtt::suback_packet>(p) && self->on_suback_) {
                    auto f = std::move(self->on_suback_);
                    f();
                }
                off += r.consumed;
            }
            std::memmove(self->rx_.data(), self->rx_.data() + off, self->rx_len_ - off);
            self->rx_len_ -= off;
            self->flush();  // PUBACKs
            self->do_read();
        });
}

}  // namespace vigil::bench
