#pragma once
// One MQTT client of the load generator: connect, subscribe, publish at a pace, and time
// every message it receives. Works against any MQTT 3.1.1 broker.

#include <vigil/mqtt/codec/codec.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace vigil::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// Payload layout: [u64 send time, ns since steady epoch][u32 publisher][u32 sequence][padding].
constexpr std::size_t header_bytes = 16;

[[nodiscard]] std::int64_t now_ns() noexcept;

/// What all subscribers observed in one measurement window.
struct observations {
    std::vector<std::uint32_t> latency_us;
    std::uint64_t received = 0;
    std::uint64_t out_of_order = 0;  ///< sequence not above the last seen from that publisher
};

/// Thread safety: shard-affine (one io_context, one thread).
class load_client : public std::enable_shared_from_this<load_client> {
public:
    load_client(asio::io_context& ioc, tcp::endpoint ep, std::string id, observations* obs, std::size_t publishers);

    /// Connects and sends CONNECT (clean session, no keep-alive); `done` after CONNACK.
    void start(std::function<void()> done);
    /// SUBSCRIBE at QoS `q`; `done` after SUBACK.
    void subscribe(const std::string& filter, qos q, std::function<void()> done);
    /// Queues `count` PUBLISH packets of this publisher. `json`: the payload is
    /// {"t":send ns,"p":publisher,"s":sequence,"x":"xx..."} (for WebSocket dashboards).
    void publish(const std::string& topic, std::uint32_t publisher, std::size_t payload_size, std::size_t count, bool json = false);

    [[nodiscard]] std::uint32_t next_seq() const noexcept { return seq_; }
    [[nodiscard]] std::size_t backlog() const noexcept { return pending_.size(); }
    void close();

private:
    void do_read();
    void on_packet(const mqtt::packet& p);
    void flush();

    tcp::socket sock_;
    tcp::endpoint ep_;
    std::string id_;
    observations* obs_;
    std::vector<std::uint32_t> last_seq_;  // per publisher, for order checks
    std::vector<std::uint8_t> rx_;
    std::size_t rx_len_ = 0;
    std::vector<std::uint8_t> pending_;
    std::vector<std::uint8_t> writing_;
    std::function<void()> on_connack_;
    std::function<void()> on_suback_;
    std::uint32_t seq_ = 0;
};

}  // namespace vigil::bench
