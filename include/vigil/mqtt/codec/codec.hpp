#pragma once
/// Sans-I/O MQTT 3.1.1 encoder and incremental decoder.

#include <vigil/core/error.hpp>
#include <vigil/mqtt/codec/errc.hpp>
#include <vigil/mqtt/codec/packets.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vigil::mqtt {

struct codec_limits {
    /// Largest whole packet (fixed header included) the decoder accepts.
    std::size_t max_packet_size = 262144;
};

enum class decode_status : std::uint8_t { need_more, complete, failed };

struct decode_result {
    decode_status status = decode_status::need_more;
    std::size_t consumed = 0;  ///< bytes the caller must drop from its input buffer
    error_code ec;             ///< set iff status == failed
};

/// Decodes at most one packet from the front of `in` into `out`.
/// Validates everything the wire format alone decides: flags, lengths, UTF-8, topic
/// names and filters, QoS values, non-zero packet ids, CONNECT flag rules.
/// A packet whose remaining length exceeds the limit fails as soon as its header is read,
/// before its body arrives. Never blocks; borrows `in` (see packets.hpp).
/// Thread safety: pure function.
[[nodiscard]] decode_result decode(std::span<const std::uint8_t> in, packet& out, const codec_limits& lim);

/// Appends the wire bytes of `p` to `out`.
void encode(const packet& p, std::vector<std::uint8_t>& out);

}  // namespace vigil::mqtt
