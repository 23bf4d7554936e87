#include "decode_parts.hpp"

namespace vigil::mqtt::detail {

error_code decode_publish(std::uint8_t flags, reader& r, packet& out) {
    publish_packet p;
    const auto q = static_cast<unsigned>((flags >> 1) & 0x03);
    if (q == 3) {
        return make_error_code(errc::malformed_packet);  // [MQTT-3.3.1-4]
    }
    p.q = static_cast<qos>(q);
    p.dup = (flags & 0x08) != 0;
    p.retain = (flags & 0x01) != 0;
    if (p.q == qos::at_most_once && p.dup) {
        return make_error_code(errc::malformed_packet);  // [MQTT-3.3.1-2]
    }
    p.topic = r.text();
    if (r.failed()) {
        return r.error();
    }
    if (!topic::valid_name(p.topic)) {
        return make_error_code(errc::invalid_topic);  // [MQTT-3.3.2-2, MQTT-4.7.3-1]
    }
    if (p.q != qos::at_most_once) {
        p.packet_id = r.u16();
        if (r.failed()) {
            return r.error();
        }
        if (p.packet_id == 0) {
            return make_error_code(errc::protocol_violation);  // [MQTT-2.3.1-1]
        }
    }
    p.payload = r.rest();
    out = p;
    return {};
}

}  // namespace vigil::mqtt::detail
