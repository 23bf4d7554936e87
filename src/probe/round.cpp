// One probe round over real sockets: a /ws dashboard subscribes, an MQTT client connects,
// subscribes and publishes a QoS 1 message with a unique payload, and the time until it comes
// back to each is measured. Both run as coroutines on a private io_context, bounded by the
// round's timeout.

#include <vigil/probe/probe.hpp>

#include <vigil/mqtt/codec/codec.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace vigil::probe {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using asio::use_awaitable;

/// A one-shot signal between the two coroutines.
class event {
public:
    explicit event(const asio::any_io_executor& ex) : timer_(ex, clock::time_point::max()) {}
    void set() {
        set_ = true;
        timer_.cancel();
    }
    asio::awaitable<void> wait() {
        while (!set_) {
            boost::system::error_code ec;
            co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
        }
    }

private:
    bool set_ = false;
    asio::steady_timer timer_;
};

struct round_state {
    explicit round_state(const asio::any_io_executor& ex) : ws_ready(ex), ws_done(ex) {}
    std::string nonce;
    clock::time_point published;
    std::optional<double> mqtt_seconds;
    std::optional<double> ws_seconds;
    std::string mqtt_stage = "not started";
    std::string ws_stage = "not started";
    event ws_ready;                     // the dashboard is subscribed (or gave up)
    event ws_done;                      // the dashboard saw the message (or gave up)
    std::vector<tcp::socket*> sockets;  // closed when the round times out or MQTT failed
    bool abandoned = false;             // closed on purpose: the /ws side's error says nothing
};

/// Lists a coroutine's socket in round_state::sockets while the coroutine (its frame, which
/// holds the socket) lives.
class registered {
public:
    registered(round_state& st, tcp::socket& s) : st_(st), s_(&s) { st_.sockets.push_back(s_); }
    ~registered() { std::erase(st_.sockets, s_); }
    registered(const registered&) = delete;
    registered& operator=(const registered&) = delete;

private:
    round_state& st_;
    tcp::socket* s_;
};

void close_all(round_state& st) {
    st.abandoned = true;
    const std::vector<tcp::socket*> open = st.sockets;  // closing does not end a coroutine at once
    for (auto* s : open) {
        boost::system::error_code ignored;
        s->close(ignored);
    }
}

double since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

tcp::endpoint address_of(const endpoint& e) { return {asio::ip::make_address(e.host), e.port}; }

/// TLS to Vigil's own listeners: verified against `settings.ca` when set, with a client
/// certificate when one is configured.
ssl::context make_tls(const config::probe_settings& s) {
    ssl::context ctx{ssl::context::tls_client};
    if (s.ca.empty()) {
        ctx.set_verify_mode(ssl::verify_none);
    } else {
        ctx.load_verify_file(s.ca);
        ctx.set_verify_mode(ssl::verify_peer);
    }
    if (!s.cert.empty()) {
        ctx.use_certificate_chain_file(s.cert);
        ctx.use_private_key_file(s.key, ssl::context::pem);
    }
    return ctx;
}

tcp::socket& lowest(tcp::socket& s) { return s; }
tcp::socket& lowest(ssl::stream<tcp::socket>& s) { return s.next_layer(); }
asio::awaitable<void> handshake(tcp::socket&) { co_return; }
asio::awaitable<void> handshake(ssl::stream<tcp::socket>& s) {
    co_await s.async_handshake(ssl::stream_base::client, use_awaitable);
}

/// Reads the next MQTT packet into `p` (borrowing `rx`, whose first `used` bytes it spans).
template <typename Stream>
asio::awaitable<mqtt::packet> read_packet(Stream& s, std::vector<std::uint8_t>& rx, std::size_t& used) {
    rx.erase(rx.begin(), rx.begin() + static_cast<std::ptrdiff_t>(used));
    used = 0;
    for (;;) {
        mqtt::packet p;
        const auto r = mqtt::decode(rx, p, mqtt::codec_limits{});
        if (r.status == mqtt::decode_status::complete) {
            used = r.consumed;
            co_return p;
        }
        if (r.status == mqtt::decode_status::failed) {
            throw std::runtime_error("undecodable packet from the broker: " + r.ec.message());
        }
        std::array<std::uint8_t, 4096> chunk{};
        const std::size_t n = co_await s.async_read_some(asio::buffer(chunk), use_awaitable);
        rx.insert(rx.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
}

template <typename Stream>
asio::awaitable<void> send(Stream& s, const mqtt::packet& p) {
    std::vector<std::uint8_t> out;
    mqtt::encode(p, out);
    co_await asio::async_write(s, asio::buffer(out), use_awaitable);
}

template <typename Stream>
asio::awaitable<void> mqtt_part(Stream s, const options& o, round_state& st) {
    const auto& cfg = o.settings;
    const registered reg{st, lowest(s)};
    st.mqtt_stage = "connecting";
    co_await lowest(s).async_connect(address_of(o.mqtt), use_awaitable);
    st.mqtt_stage = o.mqtt.tls ? "TLS handshake" : "CONNECT";
    co_await handshake(s);
    mqtt::connect_packet c;
    c.client_id = cfg.client_id;
    c.keep_alive = 30;
    const std::span<const std::uint8_t> password{reinterpret_cast<const std::uint8_t*>(cfg.password.data()),
                                                 cfg.password.size()};
    if (!cfg.username.empty()) {
        c.username = cfg.username;
        c.password = password;
    }
    st.mqtt_stage = "CONNECT";
    co_await send(s, c);
    std::vector<std::uint8_t> rx;
    std::size_t used = 0;
    const auto connack = co_await read_packet(s, rx, used);
    const auto* ca = std::get_if<mqtt::connack_packet>(&connack);
    if (ca == nullptr || ca->code != mqtt::connect_code::accepted) {
        throw std::runtime_error(
            ca == nullptr ? "no CONNACK" : fmt::format("CONNACK refused with code {}", static_cast<int>(ca->code)));
    }
    st.mqtt_stage = "SUBSCRIBE";
    // Packets are built outside co_await: GCC 12 rejects a temporary array (an initializer
    // list's) in a coroutine's awaited expression.
    mqtt::subscribe_packet sub{1, {}};
    sub.topics.push_back({cfg.topic, qos::at_least_once});
    co_await send(s, sub);
    const auto suback = co_await read_packet(s, rx, used);
    const auto* sa = std::get_if<mqtt::suback_packet>(&suback);
    if (sa == nullptr || sa->return_codes.empty() || sa->return_codes[0] == mqtt::suback_failure) {
        throw std::runtime_error(
            fmt::format("SUBSCRIBE to '{}' refused (the probe's identity needs read and write on it)", cfg.topic));
    }
    st.mqtt_stage = "waiting for the /ws dashboard";
    co_await st.ws_ready.wait();
    st.mqtt_stage = "PUBLISH";
    const std::span<const std::uint8_t> payload{reinterpret_cast<const std::uint8_t*>(st.nonce.data()),
                                                st.nonce.size()};
    st.published = clock::now();
    co_await send(s, mqtt::publish_packet{cfg.topic, payload, qos::at_least_once, false, false, 2});
    bool acked = false;
    st.mqtt_stage = "waiting for the message";
    while (!acked || !st.mqtt_seconds) {
        const auto p = co_await read_packet(s, rx, used);
        if (const auto* ack = std::get_if<mqtt::puback_packet>(&p); ack != nullptr && ack->packet_id == 2) {
            acked = true;
        } else if (const auto* pub = std::get_if<mqtt::publish_packet>(&p)) {
            const std::string_view body{reinterpret_cast<const char*>(pub->payload.data()), pub->payload.size()};
            const std::uint16_t id = pub->packet_id;
            const bool ours = pub->topic == cfg.topic && body == st.nonce;
            if (ours && !st.mqtt_seconds) {
                st.mqtt_seconds = since(st.published);
            }
            if (id != 0) {
                co_await send(s, mqtt::puback_packet{id});
            }
        }
    }
    st.mqtt_stage = "DISCONNECT";
    co_await send(s, mqtt::disconnect_packet{});
    st.mqtt_stage = "waiting for the /ws dashboard";
    co_await st.ws_done.wait();
    boost::system::error_code ignored;
    lowest(s).shutdown(tcp::socket::shutdown_both, ignored);
    st.mqtt_stage = "done";
}

template <typename Stream>
asio::awaitable<void> ws_part(Stream s, const options& o, round_state& st) {
    const auto& cfg = o.settings;
    websocket::stream<Stream> ws{std::move(s)};
    const registered reg{st, lowest(ws.next_layer())};
    st.ws_stage = "connecting";
    co_await lowest(ws.next_layer()).async_connect(address_of(*o.ws), use_awaitable);
    st.ws_stage = o.ws->tls ? "TLS handshake" : "WebSocket handshake";
    co_await handshake(ws.next_layer());
    if (!cfg.token.empty()) {
        ws.set_option(websocket::stream_base::decorator([token = cfg.token](websocket::request_type& r) {
            r.set(boost::beast::http::field::authorization, "Bearer " + token);
        }));
    }
    st.ws_stage = "WebSocket handshake";
    co_await ws.async_handshake(o.ws->host, "/ws", use_awaitable);
    ws.text(true);
    const std::string subscribe = fmt::format(R"({{"op":"subscribe","id":"probe","filters":["{}"]}})", cfg.topic);
    st.ws_stage = "subscribe";
    co_await ws.async_write(asio::buffer(subscribe), use_awaitable);
    boost::beast::flat_buffer buf;
    for (;;) {
        co_await ws.async_read(buf, use_awaitable);
        const std::string text = boost::beast::buffers_to_string(buf.data());
        buf.consume(buf.size());
        if (text.find(R"("op":"subscribed")") != std::string::npos) {
            break;
        }
        if (text.find(R"("op":"error")") != std::string::npos) {
            throw std::runtime_error("subscribe refused: " + text);
        }
    }
    st.ws_ready.set();
    st.ws_stage = "waiting for the message";
    // The nonce is plain ASCII, so it stands in the JSON frame as it is.
    while (!st.ws_seconds) {
        co_await ws.async_read(buf, use_awaitable);
        const std::string text = boost::beast::buffers_to_string(buf.data());
        buf.consume(buf.size());
        if (text.find(st.nonce) != std::string::npos) {
            st.ws_seconds = since(st.published);
        }
    }
    st.ws_done.set();
    st.ws_stage = "close";
    co_await ws.async_close(websocket::close_code::normal, use_awaitable);
    st.ws_stage = "done";
}

std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    }
}

/// Asks every 10 ms whether the message is readable from the archive: the time from its
/// publish, or nullopt when the timeout or a stop came first.
std::optional<double> until_archived(const history_check& h, const std::string& payload, clock::time_point published,
                                     const std::atomic<bool>& stopping) {
    while (!stopping.load(std::memory_order_relaxed)) {
        if (h.archived(payload)) {
            return since(published);
        }
        if (clock::now() - published >= h.timeout) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return std::nullopt;
}

}  // namespace

round_result run_round(const options& o, std::uint64_t n, const std::atomic<bool>& stopping) {
    round_result out;
    asio::io_context ioc;
    round_state st{ioc.get_executor()};
    std::random_device rd;
    st.nonce = fmt::format("vigil probe {} {:016x}", n, (std::uint64_t{rd()} << 32) | rd());
    std::optional<ssl::context> tls;
    try {
        if (o.mqtt.tls || (o.ws && o.ws->tls)) {
            tls.emplace(make_tls(o.settings));
        }
    } catch (const std::exception& e) {
        out.error = fmt::format("TLS setup: {}", e.what());
        return out;
    }
    std::string mqtt_error;
    std::string ws_error;
    bool mqtt_finished = false;
    bool ws_finished = !o.ws;
    if (o.ws) {
        auto part = o.ws->tls ? ws_part(ssl::stream<tcp::socket>{ioc, *tls}, o, st) : ws_part(tcp::socket{ioc}, o, st);
        asio::co_spawn(ioc, std::move(part), [&](const std::exception_ptr& e) {
            ws_finished = true;
            if (e && !st.abandoned) {
                ws_error = fmt::format("/ws: {}: {}", st.ws_stage, describe(e));
            }
            st.ws_ready.set();  // the MQTT side carries on without the dashboard
            st.ws_done.set();
        });
    } else {
        st.ws_ready.set();
        st.ws_done.set();
    }
    auto part = o.mqtt.tls ? mqtt_part(ssl::stream<tcp::socket>{ioc, *tls}, o, st) : mqtt_part(tcp::socket{ioc}, o, st);
    asio::co_spawn(ioc, std::move(part), [&](const std::exception_ptr& e) {
        mqtt_finished = true;
        if (e) {
            mqtt_error = fmt::format("MQTT: {}: {}", st.mqtt_stage, describe(e));
            close_all(st);  // the dashboard would wait for a message that is not coming
        }
    });
    const auto limit = std::max(o.timeout, o.settings.max_latency);
    const auto deadline = clock::now() + limit;
    while (!(mqtt_finished && ws_finished) && clock::now() < deadline && !stopping.load(std::memory_order_relaxed)) {
        ioc.run_for(std::chrono::milliseconds{50});  // a stop is noticed within 50 ms
        if (ioc.stopped()) {
            break;  // out of work
        }
    }
    if (!mqtt_finished || !ws_finished) {
        const std::string mqtt_stage = st.mqtt_stage;
        const std::string ws_stage = st.ws_stage;
        // Close everything; the coroutines end with errors, and the round reports the stage
        // each one had reached.
        close_all(st);
        st.ws_ready.set();
        st.ws_done.set();
        ioc.restart();
        // Every pending operation fails now; run until both coroutines have ended, so no frame
        // (which refers to `st`) outlives this function.
        while (!(mqtt_finished && ws_finished) && ioc.run_one() > 0) {
        }
        mqtt_error = st.mqtt_seconds ? std::string{}
                                     : fmt::format("MQTT: timed out after {} ms at {}", limit.count(), mqtt_stage);
        ws_error = !o.ws || st.ws_seconds ? std::string{}
                                          : fmt::format("/ws: timed out after {} ms at {}", limit.count(), ws_stage);
    }
    out.mqtt_seconds = st.mqtt_seconds;
    out.ws_seconds = st.ws_seconds;
    out.error = mqtt_error.empty() ? ws_error : ws_error.empty() ? mqtt_error : mqtt_error + "; " + ws_error;
    if (out.error.empty() && (!out.mqtt_seconds || (o.ws && !out.ws_seconds))) {
        out.error = "the probe message did not arrive";
    }
    if (o.history && out.mqtt_seconds) {
        out.history_seconds = until_archived(*o.history, st.nonce, st.published, stopping);
        if (!out.history_seconds && !stopping.load(std::memory_order_relaxed)) {
            const std::string e =
                fmt::format("history: not readable {} ms after its publish", o.history->timeout.count());
            out.error = out.error.empty() ? e : out.error + "; " + e;
        }
    }
    return out;
}

}  // namespace vigil::probe
