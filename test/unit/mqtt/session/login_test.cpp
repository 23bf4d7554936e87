// How a CONNECT is authenticated: every path, and the attempts to get around them.
#include <vigil/mqtt/session/login.hpp>

#include <vigil/mqtt/codec/errc.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using namespace vigil::mqtt;

namespace {

const std::vector<std::uint8_t> secret{'p', 'w'};

connect_packet with_user(std::string_view user) {
    connect_packet c;
    c.client_id = "car7";
    c.username = user;
    c.password = std::span<const std::uint8_t>{secret};
    return c;
}

login_context context(bool passwords, bool allow_anonymous) {
    login_context ctx;
    ctx.passwords = passwords;
    ctx.allow_anonymous = allow_anonymous;
    return ctx;
}

template <class T>
T as(const login_plan& p) {  // a copy: the plan is often a temporary
    REQUIRE(std::holds_alternative<T>(p));
    return std::get<T>(p);
}

}  // namespace

TEST_CASE("login: protocol rules come first", "[session][login]") {
    connect_packet c = with_user("car7");
    c.protocol_level = 5;
    const auto r = as<login_refused>(plan_login(c, context(false, true)));
    CHECK(r.code == connect_code::unacceptable_protocol_version);
    CHECK(r.reason == errc::unacceptable_protocol_version);
    c = with_user("car7");
    c.protocol_name = "MQIsdp";
    c.protocol_level = 3;
    c.client_id = "a-client-id-longer-than-23";
    CHECK(as<login_refused>(plan_login(c, context(false, true))).code == connect_code::identifier_rejected);
}

TEST_CASE("login: with a password file, a username's password is checked, even an empty one", "[session][login]") {
    const login_context ctx = context(true, true);
    const auto p = as<login_check_password>(plan_login(with_user("car7"), ctx));
    CHECK(p.username == "car7");
    CHECK(p.password == "pw");
    connect_packet c = with_user("car7");
    c.password.reset();  // a username without a password is not let in as anonymous
    const auto q = as<login_check_password>(plan_login(c, ctx));
    CHECK(q.username == "car7");
    CHECK(q.password.empty());
}

TEST_CASE("login: an unverified username is never trusted; anonymous needs allow_anonymous", "[session][login]") {
    // No password file: the name is ignored, the client is anonymous.
    CHECK(as<login_accepted>(plan_login(with_user("admin"), context(false, true))).username.empty());
    CHECK(as<login_refused>(plan_login(with_user("admin"), context(false, false))).code ==
          connect_code::not_authorized);
    // A password file, no username: anonymous, if allowed.
    connect_packet c;
    c.client_id = "x";
    CHECK(as<login_accepted>(plan_login(c, context(true, true))).username.empty());
    const auto r = as<login_refused>(plan_login(c, context(true, false)));
    CHECK(r.code == connect_code::not_authorized);
    CHECK(r.reason == errc::not_authorized);
}

TEST_CASE("login: with identity_as_username the certificate decides, not the CONNECT", "[session][login]") {
    login_context ctx = context(true, false);
    ctx.identity_as_username = true;
    ctx.tls_identity = "car7";
    // A username and password in the CONNECT do not override (or add to) the certificate.
    CHECK(as<login_accepted>(plan_login(with_user("dispatch"), ctx)).username == "car7");
    ctx.tls_identity.reset();  // no usable identity: refused, never anonymous or a password login
    ctx.allow_anonymous = true;
    const auto r = as<login_refused>(plan_login(with_user("dispatch"), ctx));
    CHECK(r.code == connect_code::not_authorized);
    CHECK(r.reason == errc::not_authorized);
}
