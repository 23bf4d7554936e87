#pragma once
/// RFC 6455 framing, server side and sans-I/O, for MQTT over WebSocket: the client's binary
/// messages carry the MQTT byte stream (MQTT 3.1.1 section 6), whatever their framing; the
/// server sends each run of packets as one binary frame.
///
/// Design note. The MQTT connection already runs its bytes through a sans-I/O TLS session
/// (net/tls.hpp); WebSocket framing is one more such layer between the socket and the MQTT
/// codec, so MQTT over WebSocket is served by the same connection code as MQTT over TCP, moves
/// between shards the same way, and keeps its gather writes (the frame header is one more
/// buffer in front of the packets). Beast only does the HTTP upgrade.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vigil::net {

/// Thread safety: distinct objects safe, shared objects unsafe.
class ws_framing {
public:
    /// What feed() found.
    enum class status : std::uint8_t {
        ok,      ///< decoded what there was (maybe nothing yet)
        closed,  ///< the client sent a Close frame; the reply is queued
        failed,  ///< a protocol violation; a Close frame with its code is queued
    };

    /// Standard close codes used here.
    static constexpr std::uint16_t normal = 1000;
    static constexpr std::uint16_t going_away = 1001;
    static constexpr std::uint16_t protocol_error = 1002;
    static constexpr std::uint16_t unsupported_data = 1003;
    static constexpr std::uint16_t policy_violation = 1008;

    /// Decodes frames from the client: the payloads of binary messages are appended to
    /// `out`; a Ping queues its Pong (replacing one not yet taken: at most one Pong waits);
    /// a Close queues the reply. Partial frames are kept.
    /// After `closed` or `failed` nothing more is decoded.
    [[nodiscard]] status feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);

    /// Why the last feed() failed, for the log.
    [[nodiscard]] const std::string& failure() const noexcept { return failure_; }

    /// The header of an unmasked, final binary frame of `payload` bytes (2 to 10 bytes);
    /// valid until the next call.
    [[nodiscard]] std::span<const std::uint8_t> header(std::size_t payload) noexcept;

    /// Queues a Close frame with `code` (once; later calls do nothing).
    void close(std::uint16_t code);
    [[nodiscard]] bool close_sent() const noexcept { return close_sent_; }

    /// Moves the queued control frames (Pong, Close) to the end of `out`.
    void take_output(std::vector<std::uint8_t>& out);

private:
    status fail(std::uint16_t code, std::string why);
    std::size_t parse_header(std::span<const std::uint8_t> in);
    status end_of_frame();

    // The frame being read.
    std::array<std::uint8_t, 14> hdr_{};
    std::size_t hdr_have_ = 0;
    std::uint64_t remaining_ = 0;  // payload bytes still to come
    std::array<std::uint8_t, 4> mask_{};
    std::size_t mask_at_ = 0;
    std::uint8_t opcode_ = 0;
    bool in_payload_ = false;
    bool fin_ = false;
    bool in_message_ = false;            // a fragmented binary message goes on
    std::vector<std::uint8_t> control_;  // a control frame's payload (at most 125 bytes)

    bool done_ = false;
    bool close_sent_ = false;
    std::string failure_;
    std::vector<std::uint8_t> output_;
    std::array<std::uint8_t, 10> out_hdr_{};
};

}  // namespace vigil::net
