#pragma once
// The generator's MQTT 3.1.1 client (plain or TLS): a device publishing its streams, or a
// backend subscriber timing what it receives. Works against any MQTT 3.1.1 broker.

#include "record.hpp"
#include "site.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// What every payload carries: `{"t":ns,"d":device,"k":stream,"s":seq,"x":"padding"}`.
struct stamp {
    std::int64_t t = 0;
    std::uint32_t device = 0;
    int stream = 0;
    std::uint32_t seq = 0;
};
/// Writes the payload of `s`, padded to `size` bytes, into `out` (replacing its contents).
void make_payload(const stamp& s, std::size_t size, std::string& out);
/// Parses a payload made by make_payload (other payloads, such as wills: false).
[[nodiscard]] bool parse_stamp(std::string_view text, stamp& out);

/// Where received stamps go: counts, duplicates and latency for one receiving client.
struct recipient {
    path_record* rec = nullptr;           ///< null outside a measurement window
    std::int64_t window_start = 0;        ///< stamps sent before it are not counted
    std::vector<std::uint32_t> last_seq;  ///< [device * streams + stream]

    explicit recipient(std::size_t devices) : last_seq(devices * streams, 0) {}
    void on_stamp(const stamp& s, std::int64_t now, std::uint64_t conflated = 0);
};

/// Thread safety: single-threaded (one io_context).
class peer : public std::enable_shared_from_this<peer> {
public:
    struct will_msg {
        std::string topic;
        std::string payload;
    };
    /// `tls`: TLS with `ctx` (which verifies the server's certificate when the site gives a CA;
    /// then against `server_name`). `who`: its username, password and client certificate.
    peer(asio::io_context& ioc, tcp::endpoint ep, asio::ssl::context& ctx, bool tls, std::string id,
         std::optional<will_msg> will, recipient* r, login who = {}, std::string server_name = {});

    /// Connects and sends CONNECT; `done(ok, microseconds to CONNACK)`.
    void connect(std::function<void(bool, std::uint32_t)> done);
    /// SUBSCRIBE; `done` after SUBACK.
    void subscribe(const std::vector<std::string>& filters, int q, std::function<void()> done);
    /// Queues a PUBLISH (written by flush()).
    void publish(std::string_view topic, std::string_view payload, int q, bool retain);
    void flush();
    /// Closes the socket without DISCONNECT (the broker publishes the will).
    void drop();
    [[nodiscard]] bool connected() const noexcept { return connected_; }
    [[nodiscard]] const std::string& id() const noexcept { return id_; }
    /// Why it failed (the first reason), or "".
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] std::size_t backlog() const noexcept { return pending_.size() + writing_.size(); }

private:
    template <class Buffers, class Handler>
    void read_some(const Buffers& b, Handler&& h);
    template <class Buffers, class Handler>
    void write_all(const Buffers& b, Handler&& h);
    /// Server name check and client certificate on this connection's SSL (false: failed).
    [[nodiscard]] bool prepare_tls();
    void send_connect();
    void do_read();
    void on_packet(const std::vector<std::uint8_t>& raw, std::size_t off, std::size_t len);
    void fail(std::string why);

    asio::ssl::stream<tcp::socket> stream_;
    bool tls_;
    tcp::endpoint ep_;
    std::string id_;
    std::optional<will_msg> will_;
    recipient* recipient_;
    login login_;
    std::string server_name_;
    std::string error_;
    std::vector<std::uint8_t> rx_;
    std::size_t rx_len_ = 0;
    std::vector<std::uint8_t> pending_;
    std::vector<std::uint8_t> writing_;
    std::uint16_t next_id_ = 0;
    bool connected_ = false;
    bool closed_ = false;
    std::int64_t connect_start_ = 0;
    std::function<void(bool, std::uint32_t)> on_connack_;
    std::function<void()> on_suback_;
};

}  // namespace vigil::bench
