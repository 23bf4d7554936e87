// libFuzzer target: the MQTT decoder on arbitrary bytes, then a re-encode/re-decode round trip of
// whatever it accepted: the encoder must reproduce a packet that decodes to the same fields.
#include <vigil/mqtt/codec/codec.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

namespace {

using namespace vigil::mqtt;

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) { return std::ranges::equal(a, b); }

bool same(const will_spec& a, const will_spec& b) {
    return a.topic == b.topic && same(a.payload, b.payload) && a.q == b.q && a.retain == b.retain;
}

template <typename T, typename Same>
bool same_optional(const std::optional<T>& a, const std::optional<T>& b, Same eq) {
    return a.has_value() == b.has_value() && (!a || eq(*a, *b));
}

bool same(const connect_packet& a, const connect_packet& b) {
    return a.protocol_name == b.protocol_name && a.protocol_level == b.protocol_level &&
           a.clean_session == b.clean_session && a.keep_alive == b.keep_alive && a.client_id == b.client_id &&
           same_optional(a.will, b.will, [](const auto& x, const auto& y) { return same(x, y); }) &&
           a.username == b.username &&
           same_optional(a.password, b.password, [](const auto& x, const auto& y) { return same(x, y); });
}
bool same(const connack_packet& a, const connack_packet& b) {
    return a.session_present == b.session_present && a.code == b.code;
}
bool same(const publish_packet& a, const publish_packet& b) {
    return a.topic == b.topic && same(a.payload, b.payload) && a.q == b.q && a.retain == b.retain && a.dup == b.dup &&
           a.packet_id == b.packet_id;
}
bool same(const subscribe_packet& a, const subscribe_packet& b) {
    return a.packet_id == b.packet_id && std::ranges::equal(a.topics, b.topics, [](const auto& x, const auto& y) {
               return x.filter == y.filter && x.q == y.q;
           });
}
bool same(const suback_packet& a, const suback_packet& b) {
    return a.packet_id == b.packet_id && a.return_codes == b.return_codes;
}
bool same(const unsubscribe_packet& a, const unsubscribe_packet& b) {
    return a.packet_id == b.packet_id && a.filters == b.filters;
}
/// The acknowledgements carry a packet id only.
template <typename Ack>
requires requires(const Ack& k) { k.packet_id; }
bool same(const Ack& a, const Ack& b) { return a.packet_id == b.packet_id; }
bool same(const pingreq_packet&, const pingreq_packet&) { return true; }
bool same(const pingresp_packet&, const pingresp_packet&) { return true; }
bool same(const disconnect_packet&, const disconnect_packet&) { return true; }

bool same(const packet& a, const packet& b) {
    return a.index() == b.index() &&
           std::visit([&](const auto& x) { return same(x, std::get<std::decay_t<decltype(x)>>(b)); }, a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const codec_limits lim{4096};
    std::span<const std::uint8_t> in{data, size};
    while (!in.empty()) {
        packet p;
        const auto r = decode(in, p, lim);
        if (r.status != decode_status::complete) {
            break;
        }
        if (r.consumed == 0 || r.consumed > in.size()) {
            std::abort();
        }
        std::vector<std::uint8_t> wire;
        encode(p, wire);
        packet again;
        const auto r2 = decode(wire, again, codec_limits{1 << 20});
        if (r2.status != decode_status::complete || r2.consumed != wire.size() || !same(p, again)) {
            std::abort();
        }
        in = in.subspan(r.consumed);
    }
    return 0;
}
