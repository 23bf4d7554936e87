#include "decode_parts.hpp"

namespace vigil::mqtt::detail {

error_code decode_connect(reader& r, packet& out) {
    connect_packet c;
    c.protocol_name = r.utf8();
    c.protocol_level = r.u8();
    const std::uint8_t flags = r.u8();
    c.keep_alive = r.u16();
    if (r.failed()) {
        return r.error();
    }
    if (c.protocol_name != "MQTT" && c.protocol_name != "MQIsdp") {
        return make_error_code(errc::protocol_violation);  // [MQTT-3.1.2-1]
    }
    if ((flags & 0x01) != 0) {
        return make_error_code(errc::malformed_packet);  // reserved flag [MQTT-3.1.2-3]
    }
    const bool has_will = (flags & 0x04) != 0;
    const auto will_qos = static_cast<unsigned>((flags >> 3) & 0x03);
    const bool will_retain = (flags & 0x20) != 0;
    const bool has_password = (flags & 0x40) != 0;
    const bool has_username = (flags & 0x80) != 0;
    c.clean_session = (flags & 0x02) != 0;
    if (will_qos == 3) {
        return make_error_code(errc::malformed_packet);  // [MQTT-3.1.2-14]
    }
    if (!has_will && (will_qos != 0 || will_retain)) {
        return make_error_code(errc::malformed_packet);  // [MQTT-3.1.2-13, MQTT-3.1.2-15]
    }
    if (has_password && !has_username) {
        return make_error_code(errc::malformed_packet);  // [MQTT-3.1.2-22]
    }
    c.client_id = r.text();
    if (has_will) {
        will_spec w;
        w.topic = r.text();
        w.payload = r.binary();
        w.q = static_cast<qos>(will_qos);
        w.retain = will_retain;
        if (!r.failed() && !topic::valid_name(w.topic)) {
            return make_error_code(errc::invalid_topic);
        }
        c.will = w;
    }
    if (has_username) {
        c.username = r.text();
    }
    if (has_password) {
        c.password = r.binary();
    }
    if (r.failed()) {
        return r.error();
    }
    out = c;
    return {};
}

error_code decode_connack(reader& r, packet& out) {
    const std::uint8_t ack_flags = r.u8();
    const std::uint8_t code = r.u8();
    if (r.failed()) {
        return r.error();
    }
    if ((ack_flags & 0xFE) != 0 || code > 5) {
        return make_error_code(errc::malformed_packet);
    }
    out = connack_packet{(ack_flags & 1) != 0, static_cast<connect_code>(code)};
    return {};
}

}  // namespace vigil::mqtt::detail
