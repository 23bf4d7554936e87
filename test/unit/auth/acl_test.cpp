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

const char* scope_name(read_scope s) {
    switch (s) {
        case read_scope::none:
            return "none";
        case read_scope::some:
            return "some";
        case read_scope::all:
            return "all";
    }
    return "?";
}
}  // namespace

TEST_CASE("acl: allow/deny table", "[auth][acl]") {
    const auto a = acl::parse(production_acl, "acl");
    struct row {
        const char* user;
        const char* client;
        const char* what;  // "pub", "read" (a delivered topic) or "sub" (a filter's scope)
        const char* topic;
        const char* want;  // "yes"/"no", or the scope
    };
    const row rows[] = {
        // a device writes only under its own client id and reads its own commands
        {"car7", "car7", "pub", "devices/car7/location", "yes"},
        {"car7", "car7", "pub", "devices/car7/events/crash", "yes"},
        {"car7", "car7", "pub", "devices/car8/location", "no"},  // spoofing another device
        {"car7", "car7", "sub", "devices/car7/commands", "all"},
        {"car7", "car7", "sub", "devices/car8/commands", "none"},
        {"car7", "car7", "sub", "devices/+/commands", "some"},  // granted, only its own delivered
        {"car7", "car7", "read", "devices/car8/commands", "no"},
        {"car7", "car7", "read", "devices/car7/commands", "yes"},
        {"car7", "car7", "sub", "#", "some"},
        {"car7", "car7", "read", "devices/car7/location", "no"},   // write-only
        {"car7", "car7", "pub", "devices/car7/commands", "yes"},   // write devices/%c/# covers it
        {"car7", "car7", "pub", "$SYS/broker/uptime", "no"},       // never
        {"alice", "car7", "pub", "devices/car7/location", "yes"},  // %c is the client id
        {"alice", "x", "sub", "users/alice/inbox", "all"},         // %u is the username
        {"alice", "x", "sub", "users/bob/inbox", "none"},
        // the dispatcher sees all devices except the denied subtree
        {"dispatcher", "d1", "sub", "devices/+/location", "some"},  // devices/secret/location is denied
        {"dispatcher", "d1", "read", "devices/secret/location", "no"},
        {"dispatcher", "d1", "read", "devices/car7/location", "yes"},
        {"dispatcher", "d1", "sub", "devices/car7/+", "all"},
        {"dispatcher", "d1", "sub", "devices/#", "some"},
        {"dispatcher", "d1", "sub", "devices", "all"},  // "devices/#" matches "devices"
        {"dispatcher", "d1", "sub", "devices/secret/x", "none"},
        {"dispatcher", "d1", "sub", "devices/secret/#", "none"},
        {"dispatcher", "d1", "pub", "devices/car7/commands", "yes"},
        {"dispatcher", "d1", "pub", "devices/secret/x", "no"},
        {"auditor", "a", "sub", "$SYS/#", "all"},
        {"auditor", "a", "pub", "$SYS/x", "no"},
        // anonymous: only the rules before the first `user` line
        {"", "anon", "sub", "public/board", "all"},
        {"", "anon", "sub", "devices/+/location", "none"},
        {"", "anon", "pub", "public/board", "no"},
        // wildcards or '/' in a client id never widen a pattern: its grants grant nothing
        {"mallory", "+", "pub", "devices/x/location", "no"},
        {"mallory", "#", "sub", "devices/#", "none"},
        {"mallory", "a/b", "pub", "devices/a/b/location", "no"},
    };
    for (const auto& r : rows) {
        INFO(r.user << " / " << r.client << " " << r.what << " " << r.topic);
        const permissions p = a.for_client(r.user, r.client);
        const std::string_view what{r.what};
        const std::string got = what == "pub"    ? (p.may_write(r.topic) ? "yes" : "no")
                                : what == "read" ? (p.may_read(r.topic) ? "yes" : "no")
                                                 : scope_name(p.scope_of(r.topic));
        CHECK(got == r.want);
    }
}

TEST_CASE("acl: a deny rule that intersects a granted filter limits it, a covered one refuses", "[auth][acl]") {
    // The reported leak: read devices/+/status, deny devices/car-secret/#.
    const auto a = acl::parse("topic read devices/+/status\ntopic deny devices/car-secret/#\n", "acl");
    const permissions p = a.for_client("", "x");
    CHECK(p.scope_of("devices/+/status") == read_scope::some);
    CHECK(p.may_read("devices/car-1/status"));
    CHECK_FALSE(p.may_read("devices/car-secret/status"));
    CHECK(p.scope_of("devices/car-secret/status") == read_scope::none);
    CHECK(p.scope_of("devices/car-1/status") == read_scope::all);
    // And the reverse: a broad grant with a narrow deny grants the broad filter.
    const auto b = acl::parse("pattern readwrite #\npattern deny secret/x\n", "acl");
    const permissions q = b.for_client("u", "c");
    CHECK(q.scope_of("#") == read_scope::some);
    CHECK(q.may_read("secret/y"));
    CHECK_FALSE(q.may_read("secret/x"));
    CHECK_FALSE(q.may_write("secret/x"));
    CHECK(q.scope_of("secret/x") == read_scope::none);
    CHECK(q.scope_of("secret/+") == read_scope::some);
}

TEST_CASE("acl: one coverage rule for ACLs: a/# grants a, # does not grant $SYS",
          "[auth][acl][MQTT-4.7.1-2][MQTT-4.7.2-1]") {
    const auto a = acl::parse("topic read a/#\ntopic read #\n", "acl");
    const permissions p = a.for_client("", "x");
    CHECK(p.scope_of("a") == read_scope::all);
    CHECK(p.scope_of("$SYS/#") == read_scope::none);
    CHECK(p.scope_of("$SYS/broker/uptime") == read_scope::none);
    CHECK_FALSE(p.may_read("$SYS/broker/uptime"));
}

TEST_CASE("acl: a client id or username starting with $ never reaches $SYS through a pattern", "[auth][acl]") {
    const auto a = acl::parse("pattern read %c/#\npattern readwrite %u/#\n", "acl");
    const permissions p = a.for_client("$SYS", "$SYS");
    CHECK_FALSE(p.may_read("$SYS/broker/uptime"));
    CHECK(p.scope_of("$SYS/#") == read_scope::none);
    const permissions ok = a.for_client("car-1", "car-1");
    CHECK(ok.may_read("car-1/status"));
}

TEST_CASE("acl: a pattern deny whose value cannot be substituted denies everything", "[auth][acl]") {
    const auto a = acl::parse("pattern readwrite fleet/#\npattern readwrite other/#\npattern deny fleet/%c/#\n", "acl");
    for (const char* id : {"a/b", "+", "#", "x/#", "$SYS"}) {
        INFO(id);
        const permissions p = a.for_client("u", id);
        CHECK(p.deny_all());
        CHECK_FALSE(p.may_write("fleet/a/b/x"));
        CHECK_FALSE(p.may_read("fleet/a/b/x"));
        CHECK_FALSE(p.may_write("other/x"));
        CHECK(p.scope_of("fleet/#") == read_scope::none);
    }
    const permissions ok = a.for_client("u", "car-1");
    CHECK_FALSE(ok.deny_all());
    CHECK_FALSE(ok.may_write("fleet/car-1/x"));
    CHECK(ok.may_write("fleet/car-2/x"));
    // %u of an anonymous client has no value: a deny using it denies everything too.
    const auto b = acl::parse("topic readwrite public/#\npattern deny users/%u/#\n", "acl");
    CHECK(b.for_client("", "x").deny_all());
    CHECK_FALSE(b.for_client("bob", "x").deny_all());
}

TEST_CASE("acl: parse errors name the line", "[auth][acl]") {
    CHECK_THROWS_WITH(acl::parse("user a\ntopic sometimes x\n", "f"), Contains("f:2") && Contains("sometimes"));
    CHECK_THROWS_WITH(acl::parse("\n\nfoo bar\n", "f"), Contains("f:3") && Contains("unknown directive"));
    CHECK_THROWS_WITH(acl::parse("topic read a/#/b\n", "f"), Contains("f:1") && Contains("not a valid topic filter"));
    CHECK_THROWS_WITH(acl::parse("user\n", "f"), Contains("f:1"));
    CHECK(acl::parse("# only a comment\n   \n", "f").rule_count() == 0);
}
