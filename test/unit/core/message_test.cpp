#include <vigil/core/message.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

using vigil::message;
using vigil::qos;
using vigil::test::as_span;
using vigil::test::bytes;

TEST_CASE("message: pre-encoded prefixes give the PUBLISH bytes for every QoS", "[message]") {
    const auto m = message::make("a/b", as_span("hello"), qos::at_least_once, false);
    CHECK(m->topic() == "a/b");
    CHECK(bytes(m->payload().begin(), m->payload().end()) == bytes{'h', 'e', 'l', 'l', 'o'});
    const auto p0 = m->publish_prefix(qos::at_most_once);
    CHECK(bytes(p0.begin(), p0.end()) == bytes{0x0a, 0x00, 0x03, 'a', '/', 'b'});
    const auto p1 = m->publish_prefix(qos::exactly_once);
    CHECK(bytes(p1.begin(), p1.end()) == bytes{0x0c, 0x00, 0x03, 'a', '/', 'b'});
    CHECK(m->wire_size(qos::at_most_once) == 12);
    CHECK(m->wire_size(qos::at_least_once) == 14);
    CHECK(message::first_byte(qos::exactly_once, true, true) == 0x3d);
    // simdjson padding follows the payload
    CHECK(m->payload().data()[5] == 0);
}

TEST_CASE("message: a 200-byte payload needs a two-byte remaining length", "[message]") {
    const std::string payload(200, 'x');
    const auto m = message::make("t", as_span(payload), qos::at_most_once, false);
    const auto p = m->publish_prefix(qos::at_most_once);
    // remaining = 2 + 1 + 200 = 203 = 0xCB -> 0xCB 0x01
    CHECK(bytes(p.begin(), p.end()) == bytes{0xcb, 0x01, 0x00, 0x01, 't'});
}

TEST_CASE("message: origin sequence numbers are unique and increasing", "[message]") {
    const auto a = message::make("t", {}, qos::at_most_once, false);
    const auto b = message::make("t", {}, qos::at_most_once, false);
    CHECK(b->origin().seq > a->origin().seq);
}
