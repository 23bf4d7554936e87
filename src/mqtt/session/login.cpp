#include <vigil/mqtt/session/login.hpp>

#include <vigil/mqtt/codec/errc.hpp>
#include <vigil/mqtt/session/session.hpp>

namespace vigil::mqtt {

login_plan plan_login(const connect_packet& c, const login_context& ctx) {
    if (const error_code ec = check_connect(c)) {
        return login_refused{ec == make_error_code(errc::unacceptable_protocol_version)
                                 ? connect_code::unacceptable_protocol_version
                                 : connect_code::identifier_rejected,
                             ec};
    }
    if (ctx.identity_as_username) {
        if (ctx.tls_identity) {
            return login_accepted{*ctx.tls_identity};
        }
        return login_refused{connect_code::not_authorized, make_error_code(errc::not_authorized)};
    }
    if (c.username && ctx.passwords) {
        std::string password = c.password
                                   ? std::string{reinterpret_cast<const char*>(c.password->data()), c.password->size()}
                                   : std::string{};
        return login_check_password{std::string{*c.username}, std::move(password)};
    }
    if (!ctx.allow_anonymous) {
        return login_refused{connect_code::not_authorized, make_error_code(errc::not_authorized)};
    }
    return login_accepted{};
}

}  // namespace vigil::mqtt
