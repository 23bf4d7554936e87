#pragma once
/// How a CONNECT is authenticated, decided without I/O: refused at once, accepted as some
/// identity, or accepted once a password check (off the shard) says yes.
///
/// In order: the protocol rules (check_connect); on a listener that takes the client
/// certificate's identity as the username, that identity or refusal (the certificate is the
/// credential, whatever username the CONNECT sends); with a password file, a CONNECT with a
/// username has its password checked (an empty one if none was sent); without a username, or
/// without a password file, the client is anonymous (a username is never trusted unverified),
/// which only `allow_anonymous` admits.

#include <vigil/core/error.hpp>
#include <vigil/mqtt/codec/packets.hpp>

#include <optional>
#include <string>
#include <variant>

namespace vigil::mqtt {

/// What the server knows besides the CONNECT.
struct login_context {
    bool identity_as_username = false;        ///< the TLS listener's use_identity_as_username
    std::optional<std::string> tls_identity;  ///< the verified client certificate's identity, if any
    bool passwords = false;                   ///< a password file is configured
    bool allow_anonymous = false;
};

/// Answer CONNACK `code` and close with `reason`.
struct login_refused {
    connect_code code = connect_code::not_authorized;
    error_code reason;
};
/// Accepted as `username` ("": anonymous).
struct login_accepted {
    std::string username;
};
/// Check `password` for `username`; accepted (as a password login) if it is right.
struct login_check_password {
    std::string username;
    std::string password;
};
using login_plan = std::variant<login_refused, login_accepted, login_check_password>;

[[nodiscard]] login_plan plan_login(const connect_packet& c, const login_context& ctx);

}  // namespace vigil::mqtt
