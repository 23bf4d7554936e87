#pragma once
// Per-packet-family body decoders; each returns an error or fills `out`.

#include <vigil/mqtt/codec/packets.hpp>

#include "reader.hpp"

namespace vigil::mqtt::detail {

error_code decode_connect(reader& r, packet& out);
error_code decode_connack(reader& r, packet& out);
error_code decode_publish(std::uint8_t flags, reader& r, packet& out);
error_code decode_subscribe(reader& r, packet& out);
error_code decode_suback(reader& r, packet& out);
error_code decode_unsubscribe(reader& r, packet& out);

template <class Packet>
error_code decode_id_only(reader& r, packet& out) {
    const std::uint16_t id = r.u16();
    if (r.failed()) {
        return r.error();
    }
    if (id == 0) {
        return make_error_code(errc::protocol_violation);  // [MQTT-2.3.1-1]
    }
    out = Packet{id};
    return {};
}

}  // namespace vigil::mqtt::detail
