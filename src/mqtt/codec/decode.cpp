#include <vigil/mqtt/codec/codec.hpp>

#include "decode_parts.hpp"
#include "reader.hpp"

namespace vigil::mqtt {
namespace {

decode_result fail(errc e) { return {decode_status::failed, 0, make_error_code(e)}; }

/// The low nibble each packet type must carry [MQTT-2.2.2-1, MQTT-2.2.2-2].
bool flags_valid(packet_type t, std::uint8_t flags) noexcept {
    switch (t) {
        case packet_type::publish:
            return true;  // checked by decode_publish
        case packet_type::pubrel:
        case packet_type::subscribe:
        case packet_type::unsubscribe:
            return flags == 0x2;
        default:
            return flags == 0x0;
    }
}

error_code decode_variable(packet_type t, std::uint8_t flags, detail::reader& r, packet& out) {
    switch (t) {
        case packet_type::connect:
            return detail::decode_connect(r, out);
        case packet_type::connack:
            return detail::decode_connack(r, out);
        case packet_type::publish:
            return detail::decode_publish(flags, r, out);
        case packet_type::puback:
            return detail::decode_id_only<puback_packet>(r, out);
        case packet_type::pubrec:
            return detail::decode_id_only<pubrec_packet>(r, out);
        case packet_type::pubrel:
            return detail::decode_id_only<pubrel_packet>(r, out);
        case packet_type::pubcomp:
            return detail::decode_id_only<pubcomp_packet>(r, out);
        case packet_type::subscribe:
            return detail::decode_subscribe(r, out);
        case packet_type::suback:
            return detail::decode_suback(r, out);
        case packet_type::unsubscribe:
            return detail::decode_unsubscribe(r, out);
        case packet_type::unsuback:
            return detail::decode_id_only<unsuback_packet>(r, out);
        case packet_type::pingreq:
            out = pingreq_packet{};
            return {};
        case packet_type::pingresp:
            out = pingresp_packet{};
            return {};
        case packet_type::disconnect:
            out = disconnect_packet{};
            return {};
    }
    return make_error_code(errc::malformed_packet);
}

error_code decode_body(packet_type t, std::uint8_t flags, detail::reader& r, packet& out) {
    if (const error_code ec = decode_variable(t, flags, r, out)) {
        return ec;
    }
    if (r.remaining() != 0) {
        return make_error_code(errc::malformed_packet);  // bytes past the packet's fields
    }
    return {};
}

}  // namespace

decode_result decode(std::span<const std::uint8_t> in, packet& out, const codec_limits& lim) {
    if (in.empty()) {
        return {};
    }
    const std::uint8_t first = in[0];
    const unsigned type_num = first >> 4;
    if (type_num == 0 || type_num == 15) {
        return fail(errc::malformed_packet);
    }
    const auto t = static_cast<packet_type>(type_num);
    const auto flags = static_cast<std::uint8_t>(first & 0x0F);
    if (!flags_valid(t, flags)) {
        return fail(errc::malformed_packet);
    }
    std::size_t remaining = 0;
    std::size_t header = 1;
    for (unsigned shift = 0;; shift += 7) {
        if (header >= in.size()) {
            return {};
        }
        if (header > 4) {
            return fail(errc::malformed_packet);  // remaining length is at most 4 bytes
        }
        const std::uint8_t b = in[header++];
        remaining |= std::size_t{b & 0x7Fu} << shift;
        if ((b & 0x80) == 0) {
            break;
        }
    }
    if (header + remaining > lim.max_packet_size) {
        return fail(errc::packet_too_large);
    }
    if (in.size() < header + remaining) {
        return {};
    }
    detail::reader r{in.subspan(header, remaining)};
    if (const error_code ec = decode_body(t, flags, r, out)) {
        return {decode_status::failed, 0, ec};
    }
    return {decode_status::complete, header + remaining, {}};
}

packet_type type_of(const packet& p) noexcept { return static_cast<packet_type>(p.index() + 1); }

}  // namespace vigil::mqtt
