#include <vigil/mqtt/codec/codec.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
using vigil::test::bytes;

namespace {
vigil::error_code fails_with(const bytes& wire, codec_limits lim = {}) {
    packet p;
    const auto r = decode(wire, p, lim);
    REQUIRE(r.status == decode_status::failed);
    return r.ec;
}
}  // namespace

TEST_CASE("codec: reserved packet types 0 and 15 are malformed", "[codec][malformed]") {
    CHECK(fails_with({0x00, 0x00}) == errc::malformed_packet);
    CHECK(fails_with({0xf0, 0x00}) == errc::malformed_packet);
}

TEST_CASE("codec: wrong fixed-header flags are malformed", "[codec][malformed][MQTT-2.2.2-2]") {
    CHECK(fails_with({0x80, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'}) == errc::malformed_packet);  // SUBSCRIBE flags 0000
    CHECK(fails_with({0x60, 0x02, 0x00, 0x01}) == errc::malformed_packet);                   // PUBREL flags 0000
    CHECK(fails_with({0x41, 0x02, 0x00, 0x01}) == errc::malformed_packet);                   // PUBACK flags 0001
    CHECK(fails_with({0xc1, 0x00}) == errc::malformed_packet);                               // PINGREQ flags 0001
    CHECK(fails_with({0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'}) == errc::malformed_packet);  // UNSUBSCRIBE 0000
}

TEST_CASE("codec: PUBLISH rule violations", "[codec][malformed]") {
    CHECK(fails_with({0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}) == errc::malformed_packet);  // QoS 3 [MQTT-3.3.1-4]
    CHECK(fails_with({0x38, 0x03, 0x00, 0x01, 't'}) == errc::malformed_packet);         // DUP with QoS 0 [MQTT-3.3.1-2]
    CHECK(fails_with({0x30, 0x05, 0x00, 0x03, 'a', '/', '+'}) == errc::invalid_topic);  // wildcard [MQTT-3.3.2-2]
    CHECK(fails_with({0x30, 0x05, 0x00, 0x03, 'a', '/', '#'}) == errc::invalid_topic);
    CHECK(fails_with({0x30, 0x02, 0x00, 0x00}) == errc::invalid_topic);                        // empty topic
    CHECK(fails_with({0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'}) == errc::invalid_utf8);         // U+0000
    CHECK(fails_with({0x30, 0x04, 0x00, 0x02, 0xc0, 0xaf}) == errc::invalid_utf8);             // overlong
    CHECK(fails_with({0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}) == errc::protocol_violation);  // packet id 0
    CHECK(fails_with({0x30, 0x03, 0x00, 0x05, 't'}) == errc::malformed_packet);                // topic past end
}

TEST_CASE("codec: control characters in topics, filters, client ids and usernames are refused",
          "[codec][malformed][MQTT-1.5.3]") {
    CHECK(fails_with({0x30, 0x05, 0x00, 0x03, 'a', '\n', 'b'}) == errc::control_character);  // PUBLISH topic, U+000A
    CHECK(fails_with({0x30, 0x05, 0x00, 0x03, 'a', 0x7f, 'b'}) == errc::control_character);  // U+007F
    CHECK(fails_with({0x30, 0x06, 0x00, 0x04, 'a', 0xc2, 0x85, 'b'}) == errc::control_character);  // U+0085 (NEL)
    CHECK(fails_with({0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 'a', 0x01, 0x00}) ==
          errc::control_character);  // SUBSCRIBE filter
    CHECK(fails_with({0xa2, 0x06, 0x00, 0x01, 0x00, 0x02, 'a', 0x1b}) ==
          errc::control_character);  // UNSUBSCRIBE filter
    // CONNECT: client id "a\r"; then a username "u\t"
    CHECK(fails_with({0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x00, 0x00, 0x02, 'a', '\r'}) ==
          errc::control_character);
    CHECK(fails_with({0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x82, 0x00, 0x00, 0x00, 0x01, 'a', 0x00, 0x02,
                      'u', '\t'}) == errc::control_character);
    // Not control characters: U+00A0 and U+2028 pass, as does a long plain ASCII topic.
    packet p;
    CHECK(decode(bytes{0x30, 0x06, 0x00, 0x04, 'a', 0xc2, 0xa0, 'b'}, p, {}).status == decode_status::complete);
    CHECK(decode(bytes{0x30, 0x06, 0x00, 0x04, 0xe2, 0x80, 0xa8, 'b'}, p, {}).status == decode_status::complete);
}

TEST_CASE("codec: CONNECT flag rules", "[codec][malformed][connect]") {
    const bytes header{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04};
    auto with_flags = [&](std::uint8_t flags) {
        bytes w = header;
        w.insert(w.end(), {flags, 0x00, 0x00, 0x00, 0x00});
        return w;
    };
    CHECK(fails_with(with_flags(0x03)) == errc::malformed_packet);  // reserved bit [MQTT-3.1.2-3]
    CHECK(fails_with(with_flags(0x1a)) == errc::malformed_packet);  // will QoS 3 [MQTT-3.1.2-14]
    CHECK(fails_with(with_flags(0x0a)) == errc::malformed_packet);  // will QoS without will flag [MQTT-3.1.2-13]
    CHECK(fails_with(with_flags(0x22)) == errc::malformed_packet);  // will retain without will [MQTT-3.1.2-15]
    CHECK(fails_with(with_flags(0x42)) == errc::malformed_packet);  // password without username [MQTT-3.1.2-22]
    bytes wrong_name{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04, 0x02, 0x00, 0x00, 0x00, 0x00};
    CHECK(fails_with(wrong_name) == errc::protocol_violation);  // [MQTT-3.1.2-1]
    bytes truncated{0x10, 0x0a, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x00};
    CHECK(fails_with(truncated) == errc::malformed_packet);
}

TEST_CASE("codec: SUBSCRIBE and UNSUBSCRIBE rule violations", "[codec][malformed]") {
    CHECK(fails_with({0x82, 0x02, 0x00, 0x01}) == errc::protocol_violation);  // no filters [MQTT-3.8.3-3]
    CHECK(fails_with({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03}) == errc::malformed_packet);  // QoS 3
    CHECK(fails_with({0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04}) == errc::malformed_packet);  // reserved bits
    CHECK(fails_with({0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 'a', '#', 0x00}) == errc::invalid_topic);
    CHECK(fails_with({0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}) == errc::protocol_violation);  // id 0
    CHECK(fails_with({0xa2, 0x02, 0x00, 0x01}) == errc::protocol_violation);                         // [MQTT-3.10.3-2]
}

TEST_CASE("codec: lengths", "[codec][malformed]") {
    // A fifth remaining-length byte is malformed.
    CHECK(fails_with({0x30, 0xff, 0xff, 0xff, 0xff, 0x01}) == errc::malformed_packet);
    // Trailing bytes inside a fixed-size packet.
    CHECK(fails_with({0x40, 0x03, 0x00, 0x01, 0x00}) == errc::malformed_packet);
    CHECK(fails_with({0xc0, 0x01, 0x00}) == errc::malformed_packet);
    // Too large is known from the header, before the body arrives.
    CHECK(fails_with({0x30, 0xff, 0x7f}, codec_limits{1000}) == errc::packet_too_large);
}
