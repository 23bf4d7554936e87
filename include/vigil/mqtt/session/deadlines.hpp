#pragma once
/// A connection's deadlines, without I/O or a clock of its own: the connection says what
/// happened and when, and asks what has expired and when to look next.
///
/// - Until its CONNECT is accepted, a connection has `connect_timeout` from its start.
/// - Then, with a keep-alive of K seconds (0: none), it is closed when nothing has arrived for
///   1.5 K [MQTT-3.1.2-24], counted from the last bytes received (the CONNECT's, at first).
/// - A packet begun must be finished within `packet_timeout` (a slow-loris defence), whatever
///   the keep-alive.

#include <chrono>
#include <cstdint>
#include <optional>

namespace vigil::mqtt {

/// Thread safety: none; one per connection, used on its shard.
class deadlines {
public:
    using time_point = std::chrono::steady_clock::time_point;

    /// What has expired, and why the connection closes.
    enum class expiry : std::uint8_t { none, connect, unfinished_packet, keep_alive };

    deadlines(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds packet_timeout,
              time_point start) noexcept;

    /// Bytes arrived: the keep-alive counts from here.
    void received(time_point now) noexcept;
    /// The CONNECT was accepted with this keep-alive; the connect deadline no longer applies.
    void accepted(std::chrono::seconds keep_alive) noexcept;
    /// After acceptance, a packet was begun and not finished. Returns when it is due; a packet
    /// already begun keeps its first time.
    time_point packet_begun(time_point now) noexcept;
    /// The packet begun was finished.
    void packet_finished() noexcept;

    /// What has expired at `now`; an unfinished packet before keep-alive when both have.
    [[nodiscard]] expiry due(time_point now) const noexcept;
    /// The earliest deadline still ahead or passed, if any: when to look next.
    [[nodiscard]] std::optional<time_point> next() const noexcept;

private:
    [[nodiscard]] std::optional<time_point> keep_alive_due() const noexcept;
    [[nodiscard]] std::optional<time_point> packet_due() const noexcept;

    std::chrono::milliseconds packet_timeout_;
    time_point connect_due_;
    bool accepted_ = false;
    std::chrono::milliseconds keep_alive_{0};
    time_point last_rx_;
    std::optional<time_point> partial_since_;
};

}  // namespace vigil::mqtt
