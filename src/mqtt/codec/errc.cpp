#include <vigil/mqtt/codec/errc.hpp>

#include <string>

namespace vigil::mqtt {
namespace {
// boost::system::error_category has a protected non-virtual destructor by design
// (categories are never deleted through a base pointer); the warning does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "mqtt"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::malformed_packet:
                return "malformed packet";
            case errc::protocol_violation:
                return "protocol violation";
            case errc::unacceptable_protocol_version:
                return "unacceptable protocol version";
            case errc::identifier_rejected:
                return "client identifier rejected";
            case errc::packet_too_large:
                return "packet too large";
            case errc::invalid_utf8:
                return "invalid UTF-8 string";
            case errc::invalid_topic:
                return "invalid topic name or filter";
            case errc::connect_timeout:
                return "no CONNECT within the connect timeout";
            case errc::keep_alive_timeout:
                return "keep-alive expired";
            case errc::session_taken_over:
                return "session taken over by a new connection";
            case errc::session_continued:
                return "the client reconnected and its persistent session continues there";
            case errc::queue_overflow:
                return "too many queued messages";
            case errc::server_shutdown:
                return "server shutting down";
            case errc::bad_credentials:
                return "bad username or password";
            case errc::not_authorized:
                return "not authorized";
            case errc::control_character:
                return "a control character in a topic, filter, client id or username";
            case errc::packet_timeout:
                return "a packet was left unfinished for longer than packet_timeout";
            case errc::server_busy:
                return "server busy: too many password checks waiting";
            case errc::credentials_revoked:
                return "its credentials were revoked (password, certificate or CRL reloaded)";
            case errc::disconnected_by_admin:
                return "disconnected by an operator (admin API)";
            case errc::store_failure:
                return "the store failed to commit; nothing unacknowledged was lost, the client should send again";
        }
        return "unknown mqtt error";
    }
};
#pragma GCC diagnostic pop
}  // namespace

const boost::system::error_category& mqtt_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace vigil::mqtt
