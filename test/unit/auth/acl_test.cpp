#include <vigil/auth/acl.hpp>

#include <vigil/config/settings.hpp>

#include <catch2/catch.hpp>

using namespace vigil::auth;
using Catch::Matchers::Contains;

namespace {
const char* production_acl = R"(# anonymous clients: nothing but the public status board
topic read public/#

user dispatcher
topic readwrite devices/#
topic deny devices/secret/#

user auditor
topic read $SYS/#

pattern write devices/%c/#
pattern read devices/%c/commands
pattern read users/%u/inbox
)";
}

TEST_CASE("acl: allow/deny table", "[auth][acl]") {
    const auto a = acl::parse(production_acl, "acl");
    struct row {
        const char* user;
        const char* client;
        const char* what;  // "pub" or "sub"
        const char* topic;
        bool allowed;
    };
    const row rows[] = {
        // a device writes only under its own client id and reads its own commands
        {"car7", "car7", "pub", "devices/car7/location", true},
        {"car7", "car7", "pub", "devices/car7/events/crash", true},
        {"car7", "car7", "pub", "devices/car8/location", false},   // spoofing another device
        {"car7", "car7", "sub", "devices/car7/commands", true},
        {"car7", "car7", "sub", "devices/car8/commands", false},
        {"car7", "car7", "sub", "devices/+/commands", false},      // wider than its own
        {"car7", "car7", "sub", "#", false},                       // a device subscribing to everything
        {"car7", "car7", "pub", "devices/car7/commands", true},    // write devices/%c/# covers it
        {"car7", "car7", "pub", "$SYS/broker/uptime", false},      // never
        {"alice", "car7", "pub", "devices/car7/location", true},   // %c is the client id
        {"alice", "x", "sub", "users/alice/inbox", true},          // %u is the username
        {"alice", "x", "sub", "users/bob/inbox", false},
        // the dispatcher sees all devices except the denied subtree
        {"dispatcher", "d1", "sub", "devices/+/location", true},
        {"dispatcher", "d1", "sub", "devices/#", false},           // would reach devices/secret
        {"dispatcher", "d1", "pub", "devices/car7/commands", true},
        {"dispatcher", "d1", "pub", "devices/secret/x", false},
        {"dispatcher", "d1", "sub", "devices/secret/x", false},
        {"auditor", "a", "sub", "$SYS/#", true},
        {"auditor", "a", "pub", "$SYS/x", false},
        // anonymous: only the rules before the first `user` line
        {"", "anon", "sub", "public/board", true},
        {"", "anon", "sub", "devices/+/location", false},
        {"", "anon", "pub", "public/board", false},
        // wildcards in a client id never widen a pattern
        {"mallory", "+", "pub", "devices/x/location", false},
        {"mallory", "#", "sub", "devices/#", false},
    };
    for (const auto& r : rows) {
        INFO(r.user << " / " << r.client << " " << r.what << " " << r.topic);
        const bool got = std::string_view{r.what} == "pub" ? a.allow_publish(r.user, r.client, r.topic)
                                                           : a.allow_subscribe(r.user, r.client, r.topic);
        CHECK(got == r.allowed);
    }
}

TEST_CASE("acl: filter coverage", "[auth][acl]") {
    CHECK(filter_covers("#", "a/b"));
    CHECK(filter_covers("a/#", "a/+/c"));
    CHECK(filter_covers("a/#", "a/#"));
    CHECK(filter_covers("a/+", "a/+"));
    CHECK(filter_covers("+/+", "a/b"));
    CHECK_FALSE(filter_covers("a/+", "a/#"));
    CHECK_FALSE(filter_covers("a/b", "a/+"));
    CHECK_FALSE(filter_covers("a/+", "a/b/c"));
    CHECK_FALSE(filter_covers("a/b/c", "a/b"));
}

TEST_CASE("acl: parse errors name the line", "[auth][acl]") {
    CHECK_THROWS_WITH(acl::parse("user a\ntopic sometimes x\n", "f"), Contains("f:2") && Contains("sometimes"));
    CHECK_THROWS_WITH(acl::parse("\n\nfoo bar\n", "f"), Contains("f:3") && Contains("unknown directive"));
    CHECK_THROWS_WITH(acl::parse("topic read a/#/b\n", "f"), Contains("f:1") && Contains("not a valid topic filter"));
    CHECK_THROWS_WITH(acl::parse("user\n", "f"), Contains("f:1"));
    CHECK(acl::parse("# only a comment\n   \n", "f").rule_count() == 0);
}
