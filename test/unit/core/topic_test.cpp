#include <vigil/core/topic.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::string_literals;
namespace topic = vigil::topic;

TEST_CASE("topic: names reject wildcards and the empty string", "[topic][MQTT-4.7.3-1]") {
    CHECK(topic::valid_name("devices/7/location"));
    CHECK(topic::valid_name("/"));
    CHECK(topic::valid_name("a//b"));
    CHECK(topic::valid_name("$SYS/broker"));
    CHECK_FALSE(topic::valid_name(""));
    CHECK_FALSE(topic::valid_name("a/+"));
    CHECK_FALSE(topic::valid_name("a/#"));
    CHECK_FALSE(topic::valid_name("a+b"));
}

TEST_CASE("topic: filters allow '+' as a level and '#' only last", "[topic][MQTT-4.7.1-2][MQTT-4.7.1-3]") {
    for (const char* ok : {"#", "+", "a/#", "a/+/b", "+/+", "/+", "a//b", "+/#", "$SYS/#"}) {
        INFO(ok);
        CHECK(topic::valid_filter(ok));
    }
    for (const char* bad : {"", "a#", "a/#/b", "#/a", "a+", "a/b+", "+a/b", "##"}) {
        INFO(bad);
        CHECK_FALSE(topic::valid_filter(bad));
    }
}

TEST_CASE("topic: matching table", "[topic]") {
    struct row {
        const char* filter;
        const char* name;
        bool match;
    };
    const row rows[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/+", "a/b", true},
        {"a/+", "a/b/c", false},
        {"a/+", "a/", true},
        {"a/+", "a", false},
        {"+/+", "/x", true},
        {"+", "/x", false},
        {"/+", "/x", true},
        {"a/#", "a", true},  // '#' includes the parent level [MQTT-4.7.1-2]
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"#", "a/b/c", true},
        {"#", "/", true},
        {"+/b/#", "a/b", true},
        {"devices/+/location", "devices/17/location", true},
        {"devices/+/location", "devices/17/status", false},
        // '$' topics are not matched by a first-level wildcard [MQTT-4.7.2-1]
        {"#", "$SYS/broker/uptime", false},
        {"+/broker/uptime", "$SYS/broker/uptime", false},
        {"$SYS/#", "$SYS/broker/uptime", true},
        {"$SYS/+/uptime", "$SYS/broker/uptime", true},
        {"a/#", "a/$b", true},
    };
    for (const auto& r : rows) {
        INFO(r.filter << " vs " << r.name);
        CHECK(topic::matches(r.filter, r.name) == r.match);
    }
}

TEST_CASE("topic: UTF-8 validation rejects U+0000, overlongs, surrogates", "[topic][MQTT-1.5.3-1][MQTT-1.5.3-2]") {
    CHECK(topic::valid_utf8("plain"));
    CHECK(topic::valid_utf8("\xC3\xA9t\xC3\xA9"));    // été
    CHECK(topic::valid_utf8("\xF0\x9F\x9A\x93"));     // U+1F693 police car
    CHECK_FALSE(topic::valid_utf8("a\0b"s));          // U+0000
    CHECK_FALSE(topic::valid_utf8("\xC0\xAF"));       // overlong '/'
    CHECK_FALSE(topic::valid_utf8("\xED\xA0\x80"));   // U+D800 surrogate
    CHECK_FALSE(topic::valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(topic::valid_utf8("\xE2\x82"));       // truncated
    CHECK_FALSE(topic::valid_utf8("\xFF"));
}

TEST_CASE("topic: UTF-8 validation finds every defect at every position of a long name", "[topic][MQTT-1.5.3-1]") {
    // Long ASCII runs are checked 8 bytes at a time: put each defect at every offset, so it
    // lands in a fast word, at a word's edge, and in the byte-wise tail.
    const std::string base(37, 'a');
    CHECK(topic::valid_utf8(base));
    const std::string defects[] = {"\0"s, "\xC0\xAF", "\xED\xA0\x80", "\xE2\x82", "\xFF", "\x80"};
    for (const auto& bad : defects) {
        for (std::size_t at = 0; at <= base.size(); ++at) {
            std::string s = base;
            s.insert(at, bad);
            INFO("defect " << static_cast<int>(static_cast<unsigned char>(bad[0])) << " at " << at);
            CHECK_FALSE(topic::valid_utf8(s));
        }
    }
    for (std::size_t at = 0; at <= base.size(); ++at) {
        std::string s = base;
        s.insert(at, "\xC3\xA9\xF0\x9F\x9A\x93");  // é and U+1F693 between ASCII runs
        CHECK(topic::valid_utf8(s));
        CHECK(topic::valid_name(s));
        s.insert(at, "+");
        CHECK_FALSE(topic::valid_name(s));
    }
}

TEST_CASE("topic: one filter covers another", "[topic]") {
    using vigil::topic::covers;
    CHECK(covers("#", "devices/+/location"));
    CHECK(covers("devices/#", "devices/+/location"));
    CHECK(covers("devices/#", "devices/#"));
    CHECK(covers("devices/#", "devices"));
    CHECK(covers("devices/+/location", "devices/car-1/location"));
    CHECK(covers("devices/+/location", "devices/+/location"));
    CHECK(covers("devices/car-1/#", "devices/car-1/status"));
    CHECK_FALSE(covers("devices/+/location", "devices/#"));
    CHECK_FALSE(covers("devices/car-1/location", "devices/+/location"));
    CHECK_FALSE(covers("devices/+/location", "devices/car-1/status"));
    CHECK_FALSE(covers("devices/+", "devices/car-1/location"));
    CHECK_FALSE(covers("devices/car-1/#", "devices/#"));
    CHECK_FALSE(covers("devices", "devices/x"));
    CHECK_FALSE(covers("#", "$SYS/#"));
    CHECK_FALSE(covers("+/x", "$SYS/x"));
    CHECK(covers("$SYS/#", "$SYS/broker/load"));
}
