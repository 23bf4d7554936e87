#include <vigil/auth/tokens.hpp>
#include <vigil/config/settings.hpp>

#include <catch2/catch.hpp>

using namespace vigil::auth;
using Catch::Matchers::Contains;

TEST_CASE("auth: an issued token is found by its secret, and only by it", "[auth][tokens]") {
    const auto a = token_file::issue("wall-1", {"devices/+/location", "devices/+/status"}, {"devices/+/commands"});
    const auto b = token_file::issue("ops", {"#"}, {});
    CHECK(a.secret.size() >= 43);
    CHECK(a.secret.find_first_of("+/=") == std::string::npos);  // URL-safe
    CHECK(a.line.find(a.secret) == std::string::npos);          // only the hash is stored
    const auto tf = token_file::parse("# dashboards\n" + a.line + "\n\n" + b.line + "\n", "tokens");
    CHECK(tf.size() == 2);
    const auto t = tf.find(a.secret);
    REQUIRE(t);
    CHECK(t->name == "wall-1");
    CHECK(t->rights.scope_of("devices/+/location") == read_scope::all);
    CHECK(t->rights.scope_of("devices/car-1/status") == read_scope::all);
    CHECK(t->rights.scope_of("devices/#") == read_scope::some);  // granted, locations and statuses delivered
    CHECK(t->rights.may_read("devices/car-1/location"));
    CHECK_FALSE(t->rights.may_read("devices/car-1/events"));
    CHECK(t->rights.scope_of("alarms/#") == read_scope::none);
    CHECK(t->rights.may_write("devices/car-1/commands"));
    CHECK_FALSE(t->rights.may_write("devices/car-1/location"));
    CHECK(tf.find(b.secret)->rights.scope_of("devices/#") == read_scope::all);
    CHECK(tf.find(b.secret)->rights.scope_of("$SYS/#") == read_scope::none);  // '#' never reaches '$'
    CHECK_FALSE(tf.find(b.secret)->rights.may_write("anything"));
    CHECK(tf.find_hash(t->hash) == t);
    CHECK(t->same_as(*t));
    CHECK_FALSE(t->same_as(*tf.find(b.secret)));
    CHECK_FALSE(tf.find("wrong"));
    CHECK_FALSE(tf.find(""));
}

TEST_CASE("auth: tokens and ACLs agree on coverage: a/# reads a", "[auth][tokens][MQTT-4.7.1-2]") {
    const auto a = token_file::issue("t", {"a/#"}, {});
    const auto tf = token_file::parse(a.line + "\n", "tokens");
    CHECK(tf.find(a.secret)->rights.scope_of("a") == read_scope::all);
}

TEST_CASE("auth: bad tokens files name the line", "[auth][tokens]") {
    CHECK_THROWS_WITH(token_file::parse("x\n", "t"), Contains("t:1"));
    CHECK_THROWS_WITH(token_file::parse("x sha256:abc\n", "t"), Contains("t:1") && Contains("64 hex"));
    const std::string h = "sha256:" + std::string(64, 'a');
    CHECK_THROWS_WITH(token_file::parse("x " + h + " sub=a/#/b\n", "t"), Contains("t:1") && Contains("a/#/b"));
    CHECK_THROWS_WITH(token_file::parse("x " + h + " what=1\n", "t"), Contains("unknown field"));
    CHECK_THROWS_WITH(token_file::parse("x " + h + "\ny " + h + "\n", "t"), Contains("t:2") && Contains("twice"));
}

TEST_CASE("auth: the admin right is issued, parsed and part of a token's identity", "[auth][tokens]") {
    const auto ops = token_file::issue("ops", {}, {}, true);
    const auto dash = token_file::issue("dash", {"devices/#"}, {});
    CHECK_THAT(ops.line, Contains(" admin"));
    const auto tf = token_file::parse(ops.line + "\n" + dash.line + "\n", "tokens");
    CHECK(tf.find(ops.secret)->admin);
    CHECK_FALSE(tf.find(dash.secret)->admin);
    api_token demoted = *tf.find(ops.secret);
    demoted.admin = false;
    CHECK_FALSE(demoted.same_as(*tf.find(ops.secret)));  // a reload that drops the right changes it
    const auto all = tf.all();
    REQUIRE(all.size() == 2);
    CHECK(all[0]->name == "dash");
    CHECK(all[1]->name == "ops");
}

TEST_CASE("auth: token names are unique in a file", "[auth][tokens]") {
    const auto a = token_file::issue("ops", {}, {});
    const auto b = token_file::issue("ops", {"#"}, {});
    CHECK_THROWS_WITH(token_file::parse("# x\n" + a.line + "\n" + b.line + "\n", "t"),
                      Contains("t:3") && Contains("'ops' is already used on line 2"));
}

TEST_CASE("auth: a token's line is removed by name, everything else kept", "[auth][tokens]") {
    const std::string h = "sha256:" + std::string(64, 'a');
    const std::string g = "sha256:" + std::string(64, 'b');
    const std::string text = "# ops here\nops " + h + " admin\n  ops2 " + g + "\n# the end";
    CHECK(token_file::without(text, "ops") == "# ops here\n  ops2 " + g + "\n# the end");
    CHECK(token_file::without(text, "ops2") == "# ops here\nops " + h + " admin\n# the end");
    CHECK_FALSE(token_file::without(text, "op"));  // whole names only
    CHECK_FALSE(token_file::without(text, "#"));   // never a comment
    CHECK_FALSE(token_file::without(text, "here"));
}
