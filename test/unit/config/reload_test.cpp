#include <vigil/config/reload.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace vigil::config;
using names = std::vector<std::string>;

namespace {
const char* base = R"(
log_level = "info"
[[listener]]
bind = "127.0.0.1"
port = 8883
tls.cert = "server.crt"
tls.key = "server.key"
[[http.listener]]
bind = "127.0.0.1"
port = 8080
[http]
tokens_file = "tokens"
[auth]
password_file = "passwd"
acl_file = "acl"
)";

settings with(const std::string& replace, const std::string& by) {
    std::string text = base;
    const auto at = text.find(replace);
    REQUIRE(at != std::string::npos);
    text.replace(at, replace.size(), by);
    return parse_settings(text, "vigil.toml");
}
}  // namespace

TEST_CASE("reload: an unchanged file changes nothing and needs no restart", "[config][reload]") {
    const auto running = parse_settings(base, "vigil.toml");
    const auto p = plan_reload(running, running);
    CHECK(p.next == running);
    CHECK(p.needs_restart.empty());
}

TEST_CASE("reload: TLS files, a new CRL, passwords, ACL, tokens and the log level apply live", "[config][reload]") {
    const auto running = parse_settings(base, "vigil.toml");
    auto fresh = with("tls.key = \"server.key\"", "tls.key = \"new.key\"\ntls.crl = \"ca.crl\"");
    fresh.log_level = vigil::log::level::debug;
    fresh.auth.password_file = "passwd.new";
    fresh.auth.acl_file = "acl.new";
    fresh.http.tokens_file = "tokens.new";
    const auto p = plan_reload(running, fresh);
    CHECK(p.needs_restart.empty());
    CHECK(p.next == fresh);
    REQUIRE(p.next.listeners[0].tls);
    CHECK(p.next.listeners[0].tls->crl == "ca.crl");
}

TEST_CASE("reload: what needs a restart is named and left as it was", "[config][reload]") {
    const auto running = parse_settings(base, "vigil.toml");
    auto fresh = with("port = 8883", "port = 8884");
    fresh.limits.max_connections = 7;
    fresh.workers = 3;
    fresh.log_level = vigil::log::level::warn;
    const auto p = plan_reload(running, fresh);
    CHECK(p.needs_restart == names{"listener", "workers", "limits"});
    CHECK(p.next.listeners[0].port == 8883);
    CHECK(p.next.limits.max_connections == running.limits.max_connections);
    CHECK(p.next.log_level == vigil::log::level::warn);  // what can change still does
}

TEST_CASE("reload: a listener turning TLS on or off, passwords switched on or off, and a removed ACL need a restart",
          "[config][reload]") {
    const auto running = parse_settings(base, "vigil.toml");
    auto plain = running;
    plain.listeners[0].tls.reset();
    CHECK(plan_reload(running, plain).needs_restart == names{"listener"});
    CHECK(plan_reload(running, plain).next.listeners[0].tls.has_value());
    auto no_passwords = running;
    no_passwords.auth.password_file.clear();
    CHECK(plan_reload(running, no_passwords).needs_restart == names{"auth.password_file"});
    auto no_acl = running;
    no_acl.auth.acl_file.clear();
    const auto p = plan_reload(running, no_acl);
    CHECK(p.needs_restart == names{"auth.acl_file"});
    CHECK(p.next.auth.acl_file == "acl");  // every topic does not open on a reload
    auto origins = running;
    origins.http.allowed_origins = {"https://console.agency.local"};
    CHECK(plan_reload(running, origins).needs_restart == names{"http.allowed_origins"});
}
