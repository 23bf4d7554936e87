#pragma once
/// The immutable message shared by every subscriber on every shard.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace vigil {

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

[[nodiscard]] constexpr qos min_qos(qos a, qos b) noexcept { return a < b ? a : b; }

/// Bytes of zero padding after every payload, so simdjson can parse it in place.
constexpr std::size_t payload_padding = 64;

/// A published message, encoded once. Holds the topic, the payload (followed by
/// `payload_padding` zero bytes) and the PUBLISH bytes that follow the first byte:
/// remaining length and topic, for QoS 0 (no packet id) and for QoS 1/2.
/// A subscriber writes `[first byte][publish_prefix(q)][packet id if q > 0][payload]`.
/// Thread safety: immutable after construction; safe to share across threads.
/// Where a message entered the system: the vigil instance and its sequence number there,
/// with the topic and receive time, the key of its archived record (archive::encode).
struct message_origin {
    std::uint32_t node;
    std::uint64_t seq;
};

class message {
public:
    /// Builds a message stamped with this node's id and its next sequence number.
    /// Precondition: topic is a valid topic name (see topic::valid_name).
    [[nodiscard]] static std::shared_ptr<const message> make(std::string_view topic,
                                                             std::span<const std::uint8_t> payload, qos q, bool retain);
    /// The same, with the wall-clock time the message was first received (a message
    /// restored from the store keeps its original time).
    [[nodiscard]] static std::shared_ptr<const message> make(std::string_view topic,
                                                             std::span<const std::uint8_t> payload, qos q, bool retain,
                                                             std::int64_t time_ms);

    /// Sets the node id stamped on messages made from now on (startup, before shards run).
    static void set_node_id(std::uint32_t node) noexcept;

    [[nodiscard]] std::string_view topic() const noexcept;
    [[nodiscard]] std::span<const std::uint8_t> payload() const noexcept;
    [[nodiscard]] qos published_qos() const noexcept { return qos_; }
    [[nodiscard]] bool retain() const noexcept { return retain_; }
    [[nodiscard]] message_origin origin() const noexcept { return origin_; }
    /// When the broker received it: milliseconds since the Unix epoch.
    [[nodiscard]] std::int64_t time_ms() const noexcept { return time_ms_; }

    /// Remaining length plus topic, for a PUBLISH at QoS `q` (packet id present iff q > 0).
    [[nodiscard]] std::span<const std::uint8_t> publish_prefix(qos q) const noexcept;

    /// Size on the wire of this message sent at QoS `q`.
    [[nodiscard]] std::size_t wire_size(qos q) const noexcept;

    /// First byte of a PUBLISH with these flags.
    [[nodiscard]] static std::uint8_t first_byte(qos q, bool dup, bool retain) noexcept;

    message(const message&) = delete;
    message& operator=(const message&) = delete;
    ~message();

    struct private_tag {};
    message(private_tag, std::size_t buffer_size);

private:
    std::unique_ptr<std::uint8_t[]> buf_;
    std::uint32_t topic_off_ = 0;
    std::uint32_t topic_len_ = 0;
    std::uint32_t payload_off_ = 0;
    std::uint32_t payload_len_ = 0;
    std::array<std::uint32_t, 2> prefix_off_{};  // [0] no packet id, [1] with packet id
    std::array<std::uint8_t, 2> prefix_len_{};
    qos qos_ = qos::at_most_once;
    bool retain_ = false;
    message_origin origin_{};
    std::int64_t time_ms_ = 0;
};

using message_ref = std::shared_ptr<const message>;

/// Appends the MQTT variable-length "remaining length" encoding of `value` to `out`;
/// returns the number of bytes written (1..4). Precondition: value < 268,435,456.
std::size_t encode_remaining_length(std::size_t value, std::uint8_t* out) noexcept;

}  // namespace vigil
