#include <vigil/store/records.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace vigil;
using namespace vigil::store;

namespace {
std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("client keys are length-prefixed so no client's range holds another's", "[store]") {
    const std::string a = queue_key("dev", 1);
    const std::string b = queue_key("dev2", 0);
    CHECK(a.substr(0, client_prefix("dev").size()) == client_prefix("dev"));
    CHECK(b.substr(0, client_prefix("dev").size()) != client_prefix("dev"));
    const std::string key = subscription_key("dev-7", "devices/+/status");
    const auto k = split_client_key(key);
    REQUIRE(k);
    CHECK(k->client_id == "dev-7");
    CHECK(k->rest == "devices/+/status");
    CHECK_FALSE(
        split_client_key(std::string{"\x00\x09"
                                     "abc",
                                     5}));
    CHECK_FALSE(split_client_key("x"));
}

TEST_CASE("queue keys sort by sequence number", "[store]") {
    CHECK(queue_key("c", 255) < queue_key("c", 256));
    CHECK(queue_key("c", 1) < queue_key("c", std::uint64_t{1} << 40));
    const std::string key = queue_key("c", 0x0102030405060708ull);
    const auto k = split_client_key(key);
    REQUIRE(k);
    CHECK(decode_u64(k->rest) == 0x0102030405060708ull);
    const std::string ik = inbound_key("c", 513);
    CHECK(decode_u16(split_client_key(ik)->rest) == 513);
    CHECK_FALSE(decode_u64("short"));
}

TEST_CASE("a message survives encode and decode with its time", "[store]") {
    const auto m = message::make("devices/7/status", bytes("online"), qos::exactly_once, true, 1'700'000'000'123);
    const auto back = decode_message(encode_message(*m));
    REQUIRE(back);
    CHECK(back->topic() == "devices/7/status");
    CHECK(std::string_view{reinterpret_cast<const char*>(back->payload().data()), back->payload().size()} == "online");
    CHECK(back->published_qos() == qos::exactly_once);
    CHECK(back->retain());
    CHECK(back->time_ms() == 1'700'000'000'123);
    // Its pre-encoded PUBLISH bytes are rebuilt too.
    CHECK(back->wire_size(qos::at_least_once) == m->wire_size(qos::at_least_once));
}

TEST_CASE("corrupt records are rejected, never guessed", "[store]") {
    const auto m = message::make("a/b", bytes("x"), qos::at_least_once, false);
    std::string v = encode_message(*m);
    CHECK_FALSE(decode_message(v.substr(0, 5)));
    std::string bad_version = v;
    bad_version[0] = 9;
    CHECK_FALSE(decode_message(bad_version));
    std::string bad_topic = v;
    bad_topic[12] = '+';  // a wildcard is not a topic name
    CHECK_FALSE(decode_message(bad_topic));
    std::string long_topic = v;
    long_topic[11] = 100;  // topic length past the end
    CHECK_FALSE(decode_message(long_topic));
    CHECK_FALSE(decode_queue_record(""));
    CHECK_FALSE(decode_queue_record(std::string{"\x01\x03\x00\x00\x01", 5}));  // QoS 3
    CHECK_FALSE(decode_session_record(std::string{"\x01\x02", 2}));
}

TEST_CASE("queue and session records round-trip", "[store]") {
    const auto m = message::make("devices/1/events", bytes("{\"e\":1}"), qos::exactly_once, false);
    queue_record r{qos::at_least_once, true, 42, false, m};
    const auto back = decode_queue_record(encode_queue_record(r));
    REQUIRE(back);
    CHECK(back->q == qos::at_least_once);
    CHECK(back->retain);
    CHECK(back->packet_id == 42);
    CHECK_FALSE(back->released);
    CHECK(back->msg->topic() == "devices/1/events");

    queue_record released{qos::exactly_once, false, 7, true, nullptr};
    const auto rel = decode_queue_record(encode_queue_record(released));
    REQUIRE(rel);
    CHECK(rel->released);
    CHECK(rel->packet_id == 7);
    CHECK_FALSE(rel->msg);

    const auto s = decode_session_record(encode_session_record({m, "car-1"}));
    REQUIRE(s);
    REQUIRE(s->will);
    CHECK(s->will->topic() == "devices/1/events");
    CHECK(s->owner == "car-1");
    const auto none = decode_session_record(encode_session_record({nullptr, ""}));
    REQUIRE(none);
    CHECK_FALSE(none->will);
    CHECK(none->owner == "");  // anonymous, and known to be
}

TEST_CASE("store: session records of format 1 (before sessions had owners) still load", "[store]") {
    // Bytes as the previous release wrote them: [1][has will = 0] and [1][1][message].
    const auto plain = decode_session_record(std::string{"\x01\x00", 2});
    REQUIRE(plain);
    CHECK_FALSE(plain->will);
    CHECK_FALSE(plain->owner);  // unknown: bound by the first identity that connects
    const auto m = message::make("devices/1/status", bytes("offline"), qos::at_least_once, true);
    const auto with_will = decode_session_record(std::string{"\x01\x01", 2} + encode_message(*m));
    REQUIRE(with_will);
    REQUIRE(with_will->will);
    CHECK(with_will->will->topic() == "devices/1/status");
    CHECK_FALSE(with_will->owner);
    // Format 2: [2][owner length: 2][owner][has will].
    const auto owned =
        decode_session_record(std::string{"\x02\x00\x03"
                                          "car\x00",
                                          7});
    REQUIRE(owned);
    CHECK(owned->owner == "car");
    CHECK_FALSE(
        decode_session_record(std::string{"\x02\x00\x09"
                                          "car\x00",
                                          7}));                      // owner past the end
    CHECK_FALSE(decode_session_record(std::string{"\x03\x00", 2}));  // unknown format
}
