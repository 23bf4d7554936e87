#include <vigil/mqtt/codec/codec.hpp>

#include <type_traits>

namespace vigil::mqtt {
namespace {

class writer {
public:
    void u8(std::uint8_t v) { body_.push_back(v); }
    void u16(std::uint16_t v) {
        body_.push_back(static_cast<std::uint8_t>(v >> 8));
        body_.push_back(static_cast<std::uint8_t>(v & 0xFF));
    }
    void bytes(std::span<const std::uint8_t> b) { body_.insert(body_.end(), b.begin(), b.end()); }
    void binary(std::span<const std::uint8_t> b) {
        u16(static_cast<std::uint16_t>(b.size()));
        bytes(b);
    }
    void str(std::string_view s) { binary({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}); }

    void finish(std::uint8_t first, std::vector<std::uint8_t>& out) const {
        std::uint8_t len[4];
        const std::size_t n = encode_remaining_length(body_.size(), len);
        out.push_back(first);
        out.insert(out.end(), len, len + n);
        out.insert(out.end(), body_.begin(), body_.end());
    }

private:
    std::vector<std::uint8_t> body_;
};

std::uint8_t header(packet_type t, unsigned flags = 0) {
    return static_cast<std::uint8_t>((static_cast<unsigned>(t) << 4) | flags);
}

void encode_connect(const connect_packet& c, writer& w) {
    w.str(c.protocol_name);
    w.u8(c.protocol_level);
    unsigned flags = c.clean_session ? 0x02u : 0u;
    if (c.will) {
        flags |= 0x04u | (static_cast<unsigned>(c.will->q) << 3) | (c.will->retain ? 0x20u : 0u);
    }
    flags |= c.password ? 0x40u : 0u;
    flags |= c.username ? 0x80u : 0u;
    w.u8(static_cast<std::uint8_t>(flags));
    w.u16(c.keep_alive);
    w.str(c.client_id);
    if (c.will) {
        w.str(c.will->topic);
        w.binary(c.will->payload);
    }
    if (c.username) {
        w.str(*c.username);
    }
    if (c.password) {
        w.binary(*c.password);
    }
}

}  // namespace

void encode(const packet& p, std::vector<std::uint8_t>& out) {
    writer w;
    std::uint8_t first = header(type_of(p));
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, connect_packet>) {
                encode_connect(v, w);
            } else if constexpr (std::is_same_v<T, connack_packet>) {
                w.u8(v.session_present ? 1 : 0);
                w.u8(static_cast<std::uint8_t>(v.code));
            } else if constexpr (std::is_same_v<T, publish_packet>) {
                first = message::first_byte(v.q, v.dup, v.retain);
                w.str(v.topic);
                if (v.q != qos::at_most_once) {
                    w.u16(v.packet_id);
                }
                w.bytes(v.payload);
            } else if constexpr (std::is_same_v<T, pubrel_packet>) {
                first = header(packet_type::pubrel, 0x2);
                w.u16(v.packet_id);
            } else if constexpr (std::is_same_v<T, puback_packet> || std::is_same_v<T, pubrec_packet> ||
                                 std::is_same_v<T, pubcomp_packet> || std::is_same_v<T, unsuback_packet>) {
                w.u16(v.packet_id);
            } else if constexpr (std::is_same_v<T, subscribe_packet>) {
                first = header(packet_type::subscribe, 0x2);
                w.u16(v.packet_id);
                for (const auto& t : v.topics) {
                    w.str(t.filter);
                    w.u8(static_cast<std::uint8_t>(t.q));
                }
            } else if constexpr (std::is_same_v<T, suback_packet>) {
                w.u16(v.packet_id);
                w.bytes(v.return_codes);
            } else if constexpr (std::is_same_v<T, unsubscribe_packet>) {
                first = header(packet_type::unsubscribe, 0x2);
                w.u16(v.packet_id);
                for (const auto f : v.filters) {
                    w.str(f);
                }
            }
            // pingreq, pingresp, disconnect: no body
        },
        p);
    w.finish(first, out);
}

}  // namespace vigil::mqtt
