#include "decode_parts.hpp"

namespace vigil::mqtt::detail {

error_code decode_subscribe(reader& r, packet& out) {
    subscribe_packet s;
    s.packet_id = r.u16();
    if (r.failed()) {
        return r.error();
    }
    if (s.packet_id == 0) {
        return make_error_code(errc::protocol_violation);
    }
    while (r.remaining() > 0) {
        const std::string_view filter = r.text();
        const std::uint8_t options = r.u8();
        if (r.failed()) {
            return r.error();
        }
        if ((options & 0xFC) != 0 || (options & 0x03) == 3) {
            return make_error_code(errc::malformed_packet);  // [MQTT-3-8.3-4]
        }
        if (!topic::valid_filter(filter)) {
            return make_error_code(errc::invalid_topic);
        }
        s.topics.push_back({filter, static_cast<qos>(options & 0x03)});
    }
    if (s.topics.empty()) {
        return make_error_code(errc::protocol_violation);  // [MQTT-3.8.3-3]
    }
    out = std::move(s);
    return {};
}

error_code decode_suback(reader& r, packet& out) {
    suback_packet s;
    s.packet_id = r.u16();
    if (r.failed()) {
        return r.error();
    }
    while (r.remaining() > 0) {
        const std::uint8_t code = r.u8();
        if (code > 2 && code != suback_failure) {
            return make_error_code(errc::malformed_packet);
        }
        s.return_codes.push_back(code);
    }
    if (s.packet_id == 0 || s.return_codes.empty()) {
        return make_error_code(errc::malformed_packet);
    }
    out = std::move(s);
    return {};
}

error_code decode_unsubscribe(reader& r, packet& out) {
    unsubscribe_packet u;
    u.packet_id = r.u16();
    if (r.failed()) {
        return r.error();
    }
    if (u.packet_id == 0) {
        return make_error_code(errc::protocol_violation);
    }
    while (r.remaining() > 0) {
        const std::string_view filter = r.text();
        if (r.failed()) {
            return r.error();
        }
        if (!topic::valid_filter(filter)) {
            return make_error_code(errc::invalid_topic);
        }
        u.filters.push_back(filter);
    }
    if (u.filters.empty()) {
        return make_error_code(errc::protocol_violation);  // [MQTT-3.10.3-2]
    }
    out = std::move(u);
    return {};
}

}  // namespace vigil::mqtt::detail
