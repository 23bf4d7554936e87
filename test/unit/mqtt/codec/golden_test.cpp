#include <vigil/mqtt/codec/codec.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
using vigil::qos;
using vigil::test::as_span;
using vigil::test::bytes;

namespace {

const codec_limits lim{};

packet decode_all(const bytes& wire) {
    packet p;
    const auto r = decode(wire, p, lim);
    INFO(r.ec.message());
    REQUIRE(r.status == decode_status::complete);
    REQUIRE(r.consumed == wire.size());
    return p;
}

bytes encode_one(const packet& p) {
    bytes out;
    encode(p, out);
    return out;
}

std::string str(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("codec: CONNECT with will, username and password round-trips", "[codec][connect]") {
    const bytes wire{0x10, 0x26,                           // CONNECT, remaining length 38
                     0x00, 0x04, 'M', 'Q', 'T', 'T',       // protocol name
                     0x04,                                 // level 4 (3.1.1)
                     0xf6,                                 // user, pass, will retain, will QoS 2, will, clean
                     0x00, 0x3c,                           // keep-alive 60
                     0x00, 0x03, 'c', 'a', 'r',            // client id
                     0x00, 0x05, 'c', 'a', 'r', '/', 'w',  // will topic
                     0x00, 0x03, 'o', 'f', 'f',            // will payload
                     0x00, 0x04, 'u', 's', 'e', 'r',       // username
                     0x00, 0x03, 'p', 'w', 'd'};           // password
    const auto p = decode_all(wire);
    const auto& c = std::get<connect_packet>(p);
    CHECK(c.protocol_name == "MQTT");
    CHECK(c.protocol_level == 4);
    CHECK(c.clean_session);
    CHECK(c.keep_alive == 60);
    CHECK(c.client_id == "car");
    REQUIRE(c.will);
    CHECK(c.will->topic == "car/w");
    CHECK(str(c.will->payload) == "off");
    CHECK(c.will->q == qos::exactly_once);
    CHECK(c.will->retain);
    CHECK(c.username == "user");
    REQUIRE(c.password);
    CHECK(str(*c.password) == "pwd");
    CHECK(encode_one(p) == wire);
}

TEST_CASE("codec: minimal CONNECT with empty client id", "[codec][connect]") {
    const bytes wire{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x00, 0x00, 0x00};
    const auto p = decode_all(wire);
    const auto& c = std::get<connect_packet>(p);
    CHECK(c.client_id.empty());
    CHECK_FALSE(c.will);
    CHECK_FALSE(c.username);
    CHECK(encode_one(p) == wire);
}

TEST_CASE("codec: CONNACK", "[codec][connack]") {
    const bytes wire{0x20, 0x02, 0x01, 0x00};
    const auto p = decode_all(wire);
    CHECK(std::get<connack_packet>(p).session_present);
    CHECK(encode_one(connack_packet{false, connect_code::identifier_rejected}) == bytes{0x20, 0x02, 0x00, 0x02});
    CHECK(encode_one(p) == wire);
}

TEST_CASE("codec: PUBLISH QoS 0, 1 and 2", "[codec][publish]") {
    const bytes q0{0x31,                       // PUBLISH, QoS 0, RETAIN
                   0x07,                       // remaining length 7
                   0x00, 0x03, 'a', '/', 'b',  // topic
                   'h',  'i'};                 // payload
    const auto p0 = decode_all(q0);
    const auto& v0 = std::get<publish_packet>(p0);
    CHECK(v0.topic == "a/b");
    CHECK(v0.q == qos::at_most_once);
    CHECK(v0.retain);
    CHECK(v0.packet_id == 0);
    CHECK(str(v0.payload) == "hi");
    CHECK(encode_one(p0) == q0);

    const bytes q1{0x32,                        // PUBLISH, QoS 1
                   0x0c,                        // remaining length = 12
                   0x00, 0x03, 'a', '/', 'b',   // topic "a/b"
                   0x12, 0x34,                  // packet id 0x1234
                   'h',  'e',  'l', 'l', 'o'};  // payload
    const auto p1 = decode_all(q1);
    CHECK(std::get<publish_packet>(p1).packet_id == 0x1234);
    CHECK(encode_one(p1) == q1);

    const bytes q2{0x3c, 0x07, 0x00, 0x01, 'x', 0x00, 0x01, 'z', 'z'};  // QoS 2, DUP
    const auto p2 = decode_all(q2);
    CHECK(std::get<publish_packet>(p2).q == qos::exactly_once);
    CHECK(std::get<publish_packet>(p2).dup);
    CHECK(encode_one(p2) == q2);
}

TEST_CASE("codec: PUBLISH with an empty payload", "[codec][publish]") {
    const bytes wire{0x31, 0x03, 0x00, 0x01, 't'};
    const auto p = decode_all(wire);
    CHECK(std::get<publish_packet>(p).payload.empty());
    CHECK(encode_one(p) == wire);
}

TEST_CASE("codec: PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK", "[codec][acks]") {
    CHECK(encode_one(decode_all({0x40, 0x02, 0x00, 0x07})) == bytes{0x40, 0x02, 0x00, 0x07});
    CHECK(std::get<puback_packet>(decode_all({0x40, 0x02, 0x00, 0x07})).packet_id == 7);
    CHECK(std::get<pubrec_packet>(decode_all({0x50, 0x02, 0x01, 0x00})).packet_id == 256);
    CHECK(std::get<pubrel_packet>(decode_all({0x62, 0x02, 0xff, 0xff})).packet_id == 65535);
    CHECK(std::get<pubcomp_packet>(decode_all({0x70, 0x02, 0x00, 0x01})).packet_id == 1);
    CHECK(std::get<unsuback_packet>(decode_all({0xb0, 0x02, 0x00, 0x09})).packet_id == 9);
    CHECK(encode_one(pubrel_packet{3}) == bytes{0x62, 0x02, 0x00, 0x03});
    CHECK(encode_one(pubrec_packet{3}) == bytes{0x50, 0x02, 0x00, 0x03});
    CHECK(encode_one(pubcomp_packet{3}) == bytes{0x70, 0x02, 0x00, 0x03});
    CHECK(encode_one(unsuback_packet{3}) == bytes{0xb0, 0x02, 0x00, 0x03});
}

TEST_CASE("codec: SUBSCRIBE and SUBACK", "[codec][subscribe]") {
    const bytes wire{0x82, 0x0e,                        // SUBSCRIBE (flags 0010), remaining 14
                     0x00, 0x0a,                        // packet id 10
                     0x00, 0x03, 'a', '/', '#', 0x01,   // "a/#" QoS 1
                     0x00, 0x03, '+', '/', 'b', 0x02};  // "+/b" QoS 2
    const auto p = decode_all(wire);
    const auto& s = std::get<subscribe_packet>(p);
    CHECK(s.packet_id == 10);
    REQUIRE(s.topics.size() == 2);
    CHECK(s.topics[0].filter == "a/#");
    CHECK(s.topics[0].q == qos::at_least_once);
    CHECK(s.topics[1].filter == "+/b");
    CHECK(s.topics[1].q == qos::exactly_once);
    CHECK(encode_one(p) == wire);

    const bytes ack{0x90, 0x05, 0x00, 0x0a, 0x01, 0x80, 0x00};
    const auto a = decode_all(ack);
    CHECK(std::get<suback_packet>(a).return_codes == bytes{0x01, 0x80, 0x00});
    CHECK(encode_one(a) == ack);
}

TEST_CASE("codec: UNSUBSCRIBE", "[codec][unsubscribe]") {
    const bytes wire{0xa2, 0x07, 0x00, 0x02, 0x00, 0x03, 'a', '/', 'b'};
    const auto p = decode_all(wire);
    CHECK(std::get<unsubscribe_packet>(p).filters == std::vector<std::string_view>{"a/b"});
    CHECK(encode_one(p) == wire);
}

TEST_CASE("codec: PINGREQ, PINGRESP, DISCONNECT", "[codec]") {
    CHECK(std::holds_alternative<pingreq_packet>(decode_all({0xc0, 0x00})));
    CHECK(std::holds_alternative<pingresp_packet>(decode_all({0xd0, 0x00})));
    CHECK(std::holds_alternative<disconnect_packet>(decode_all({0xe0, 0x00})));
    CHECK(encode_one(pingreq_packet{}) == bytes{0xc0, 0x00});
    CHECK(encode_one(pingresp_packet{}) == bytes{0xd0, 0x00});
    CHECK(encode_one(disconnect_packet{}) == bytes{0xe0, 0x00});
}

TEST_CASE("codec: decoding is incremental, one byte at a time", "[codec]") {
    const bytes wire{0x32, 0x0c, 0x00, 0x03, 'a', '/', 'b', 0x12, 0x34, 'h', 'e', 'l', 'l', 'o', 0xc0, 0x00};
    for (std::size_t n = 0; n < 14; ++n) {
        packet p;
        CHECK(decode({wire.data(), n}, p, lim).status == decode_status::need_more);
    }
    packet p;
    const auto r = decode(wire, p, lim);
    REQUIRE(r.status == decode_status::complete);
    CHECK(r.consumed == 14);
    const auto r2 = decode({wire.data() + 14, 2}, p, lim);
    CHECK(r2.status == decode_status::complete);
    CHECK(std::holds_alternative<pingreq_packet>(p));
}

TEST_CASE("codec: remaining length uses up to four bytes", "[codec]") {
    const std::string payload(20000, 'p');
    const publish_packet big{"t", as_span(payload), qos::at_most_once, false, false, 0};
    const auto wire = encode_one(big);
    // 2 + 1 + 20000 = 20003 = 0x4E23 -> 0xA3 0x9C 0x01
    CHECK(wire[1] == 0xa3);
    CHECK(wire[2] == 0x9c);
    CHECK(wire[3] == 0x01);
    const auto p = decode_all(wire);
    CHECK(std::get<publish_packet>(p).payload.size() == 20000);
}
