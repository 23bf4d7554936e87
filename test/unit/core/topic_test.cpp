#include <vigil/core/topic.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <random>
#include <string>
#include <vector>

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

TEST_CASE("topic: control characters are found at every position", "[topic][MQTT-1.5.3]") {
    const std::string base = "devices/car-0417/location/with/a/long/ascii/tail";
    CHECK_FALSE(topic::has_control_character(base));
    CHECK_FALSE(
        topic::has_control_character("\xC2\xA0 \xE2\x80\xA8 ~ \xF0\x9F\x9A\x93"));  // U+00A0, U+2028, '~', U+1F693
    for (const std::string& c : {"\x01"s, "\x09"s, "\x0a"s, "\x1f"s, "\x7f"s, "\xC2\x80"s, "\xC2\x9F"s}) {
        for (std::size_t at = 0; at <= base.size(); ++at) {
            std::string s = base;
            s.insert(at, c);
            INFO("at " << at);
            CHECK(topic::has_control_character(s));
        }
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
    CHECK(topic::valid_utf8("\xC3\xA9t\xC3\xA9"));       // été
    CHECK(topic::valid_utf8("\xF0\x9F\x9A\x93"));        // U+1F693 police car
    CHECK_FALSE(topic::valid_utf8("a\0b"s));             // U+0000
    CHECK_FALSE(topic::valid_utf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(topic::valid_utf8("\xED\xA0\x80"));      // U+D800 surrogate
    CHECK_FALSE(topic::valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(topic::valid_utf8("\xE2\x82"));          // truncated
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

TEST_CASE("topic: the standard's examples, for matching and coverage alike",
          "[topic][MQTT-4.7.1-2][MQTT-4.7.1-3][MQTT-4.7.2-1]") {
    using vigil::topic::covers;
    using vigil::topic::matches;
    // §4.7.1.2: "sport/tennis/player1/#" matches these three.
    for (const char* t :
         {"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon"}) {
        INFO(t);
        CHECK(matches("sport/tennis/player1/#", t));
        CHECK(covers("sport/tennis/player1/#", t));  // a name is a filter without wildcards
    }
    CHECK(matches("sport/#", "sport"));  // '#' includes the parent level
    CHECK(covers("sport/#", "sport"));
    // §4.7.1.3: "sport/tennis/+" matches one level only.
    CHECK(matches("sport/tennis/+", "sport/tennis/player1"));
    CHECK_FALSE(matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    CHECK_FALSE(matches("sport/+", "sport"));
    CHECK(matches("sport/+", "sport/"));
    CHECK(matches("+/+", "/finance"));
    CHECK(matches("/+", "/finance"));
    CHECK_FALSE(matches("+", "/finance"));
    CHECK_FALSE(covers("sport/+", "sport"));
    CHECK(covers("+/+", "/finance"));
    // §4.7.2: wildcards at the first level never reach '$' topics.
    CHECK_FALSE(matches("#", "$SYS/monitor/Clients"));
    CHECK_FALSE(matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    CHECK(matches("$SYS/#", "$SYS/monitor/Clients"));
    CHECK(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    CHECK_FALSE(covers("#", "$SYS/#"));
    CHECK_FALSE(covers("+/#", "$SYS/monitor/+"));
    CHECK(covers("$SYS/#", "$SYS/monitor/+"));
}

TEST_CASE("topic: intersection of two filters", "[topic]") {
    using vigil::topic::intersect;
    const std::pair<std::pair<const char*, const char*>, const char*> rows[] = {
        {{"devices/+/status", "devices/car-secret/#"}, "devices/car-secret/status"},
        {{"devices/car-secret/#", "devices/+/status"}, "devices/car-secret/status"},
        {{"#", "secret/x"}, "secret/x"},
        {{"#", "#"}, "#"},
        {{"a/#", "a"}, "a"},
        {{"a/#", "+/b/#"}, "a/b/#"},
        {{"+/+", "a/#"}, "a/+"},
        {{"a/+", "a"}, nullptr},
        {{"a/b", "a/c"}, nullptr},
        {{"a/b/c", "a/b"}, nullptr},
        {{"#", "$SYS/#"}, nullptr},
        {{"+/x", "$SYS/x"}, nullptr},
        {{"$SYS/#", "$SYS/+"}, "$SYS/+"},
        {{"+/#", "x"}, "x"},
    };
    for (const auto& [in, want] : rows) {
        INFO(in.first << " & " << in.second);
        const auto got = intersect(in.first, in.second);
        if (want == nullptr) {
            CHECK_FALSE(got);
        } else {
            REQUIRE(got);
            CHECK(*got == want);
        }
    }
}

TEST_CASE("topic: intersection and coverage agree with matching on random filters", "[topic]") {
    // Every topic of a small alphabet up to four levels, against random filters.
    const std::uint64_t seed = Catch::rngSeed();
    INFO("seed " << seed << " (replay with --rng-seed " << seed << ")");
    std::mt19937_64 rng{seed};
    const char* levels[] = {"a", "b", "$s", ""};
    std::vector<std::string> topics;
    std::function<void(std::string, int)> grow = [&](std::string prefix, int depth) {
        for (const char* l : levels) {
            std::string t = prefix.empty() && depth == 0 ? std::string{l} : prefix + "/" + l;
            if (depth > 0 && std::string_view{l}.starts_with('$')) {
                t = prefix + "/s";  // '$' is special at the first level only
            }
            if (!t.empty()) {
                topics.push_back(t);
            }
            if (depth < 3) {
                grow(t, depth + 1);
            }
        }
    };
    grow("", 0);
    auto random_filter = [&] {
        const char* fl[] = {"a", "b", "$s", "", "+", "+", "#"};
        std::string f;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
            std::string l = fl[rng() % 7];
            if (l == "#" && i + 1 < n) {
                l = "+";
            }
            f += (i == 0 ? "" : "/") + l;
            if (l == "#") {
                break;
            }
        }
        return f.empty() ? std::string{"/"} : f;  // one empty level is not a filter
    };
    for (int round = 0; round < 2000; ++round) {
        const std::string a = random_filter();
        const std::string b = random_filter();
        INFO("filters '" << a << "' and '" << b << "'");
        REQUIRE(topic::valid_filter(a));
        REQUIRE(topic::valid_filter(b));
        const auto both = topic::intersect(a, b);
        const bool a_covers_b = topic::covers(a, b);
        for (const auto& t : topics) {
            const bool in_a = topic::matches(a, t);
            const bool in_b = topic::matches(b, t);
            INFO(a << " & " << b << " on " << t);
            REQUIRE((both && topic::matches(*both, t)) == (in_a && in_b));
            if (a_covers_b && in_b) {
                REQUIRE(in_a);
            }
        }
    }
}
