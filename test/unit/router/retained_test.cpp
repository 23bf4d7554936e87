#include <vigil/router/retained.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using vigil::message;
using vigil::qos;
using vigil::router::retained_store;
using vigil::test::as_span;

namespace {
std::set<std::string> topics(const retained_store& r, std::string_view filter) {
    std::set<std::string> out;
    for (const auto& m : r.match(filter)) {
        out.insert(std::string{m->topic()});
    }
    return out;
}
}  // namespace

TEST_CASE("retained: store, replace, clear with an empty payload", "[retained][MQTT-3.3.1-10]") {
    retained_store r;
    r.update(message::make("a/b", as_span("1"), qos::at_most_once, true));
    r.update(message::make("a/b", as_span("22"), qos::at_most_once, true));
    REQUIRE(r.match("a/b").size() == 1);
    CHECK(r.match("a/b")[0]->payload()[0] == '2');
    CHECK(r.usage().count == 1);
    CHECK(r.usage().bytes == 5);  // "a/b" and "22"
    r.update(message::make("a/b", {}, qos::at_most_once, true));
    CHECK(r.match("a/b").empty());
    CHECK(r.usage().count == 0);
    CHECK(r.usage().bytes == 0);
}

TEST_CASE("retained: restored messages count in the usage, replaced or not", "[retained]") {
    retained_store r;
    r.restore(message::make("x/1", as_span("abc"), qos::at_most_once, true));
    r.restore(message::make("x/1", as_span("a"), qos::at_most_once, true));
    r.restore(message::make("x/2", as_span("abcd"), qos::at_most_once, true));
    r.update(message::make("x/2", as_span("ab"), qos::at_most_once, true));
    CHECK(r.usage().count == 2);
    CHECK(r.usage().bytes == (3 + 1) + (3 + 2));
}

TEST_CASE("retained: wildcard lookups", "[retained]") {
    retained_store r;
    for (const char* t : {"a", "a/b", "a/c/d", "ab", "b/x", "$SYS/up"}) {
        r.update(message::make(t, as_span("v"), qos::at_most_once, true));
    }
    using set = std::set<std::string>;
    CHECK(topics(r, "a/#") == set{"a", "a/b", "a/c/d"});
    CHECK(topics(r, "a/+") == set{"a/b"});
    CHECK(topics(r, "+/x") == set{"b/x"});
    CHECK(topics(r, "#") == set{"a", "a/b", "a/c/d", "ab", "b/x"});
    CHECK(topics(r, "$SYS/#") == set{"$SYS/up"});
}

TEST_CASE("retained: changes are reported once until taken, then again", "[retained][last-value]") {
    retained_store r;
    const auto m = [](const char* v) {
        return message::make("devices/a/location", as_span(v), qos::at_most_once, false);
    };
    CHECK(r.update(m("1")));        // new topic: remember it
    CHECK_FALSE(r.update(m("2")));  // still waiting for its write-through
    auto taken = r.take_changed("devices/a/location");
    REQUIRE(taken.has_value());
    REQUIRE(*taken != nullptr);
    CHECK((*taken)->payload()[0] == '2');                           // the newest, not the one that marked it
    CHECK_FALSE(r.take_changed("devices/a/location").has_value());  // taken already
    CHECK(r.update(m("3")));                                        // changed again after the write-through
    CHECK(r.update(message::make("devices/a/location", {}, qos::at_most_once, false)));  // cleared
    taken = r.take_changed("devices/a/location");
    REQUIRE(taken.has_value());
    CHECK(*taken == nullptr);  // the write-through erases it
    CHECK_FALSE(r.update(message::make("devices/a/location", {}, qos::at_most_once, false)));  // nothing to clear
    CHECK(r.match("devices/a/location").empty());
}

TEST_CASE("retained: restored messages are not changes", "[retained][last-value]") {
    retained_store r;
    r.restore(message::make("devices/b/location", as_span("disk"), qos::at_most_once, false));
    REQUIRE(r.match("devices/+/location").size() == 1);
    CHECK_FALSE(r.take_changed("devices/b/location").has_value());
    CHECK(r.update(message::make("devices/b/location", as_span("new"), qos::at_most_once, false)));
    const auto taken = r.take_changed("devices/b/location");
    REQUIRE(taken.has_value());
    REQUIRE(*taken != nullptr);
    CHECK((*taken)->payload()[0] == 'n');
}
