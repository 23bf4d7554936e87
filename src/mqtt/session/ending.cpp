#include <vigil/mqtt/session/ending.hpp>

#include <vigil/mqtt/codec/errc.hpp>

namespace vigil::mqtt {

disconnect_reason reason_of(const error_code& ec) noexcept {
    if (!ec) {
        return disconnect_reason::clean;
    }
    if (ec.category() != mqtt_category()) {
        return disconnect_reason::connection_lost;  // EOF, reset, TLS or WebSocket failures
    }
    switch (static_cast<errc>(ec.value())) {
        case errc::keep_alive_timeout:
            return disconnect_reason::keepalive_timeout;
        case errc::session_taken_over:
        case errc::session_continued:
            return disconnect_reason::takeover;
        case errc::bad_credentials:
        case errc::not_authorized:
            return disconnect_reason::auth_failure;
        case errc::credentials_revoked:
            return disconnect_reason::revoked;
        case errc::disconnected_by_admin:
            return disconnect_reason::admin;
        case errc::queue_overflow:
        case errc::server_busy:
        case errc::packet_timeout:
        case errc::connect_timeout:
            return disconnect_reason::limit;
        case errc::server_shutdown:
            return disconnect_reason::shutdown;
        case errc::store_failure:
            return disconnect_reason::store_failure;
        case errc::malformed_packet:
        case errc::protocol_violation:
        case errc::unacceptable_protocol_version:
        case errc::identifier_rejected:
        case errc::packet_too_large:
        case errc::invalid_utf8:
        case errc::invalid_topic:
        case errc::control_character:
            return disconnect_reason::protocol_error;
    }
    return disconnect_reason::protocol_error;
}

bool publishes_will(const error_code& ec) noexcept {
    if (!ec) {
        return false;  // DISCONNECT [MQTT-3.1.2-10]
    }
    if (ec.category() != mqtt_category()) {
        return true;  // the network
    }
    switch (static_cast<errc>(ec.value())) {
        case errc::keep_alive_timeout:
        case errc::malformed_packet:
        case errc::protocol_violation:
        case errc::packet_too_large:
        case errc::invalid_utf8:
        case errc::invalid_topic:
        case errc::control_character:
        case errc::packet_timeout:
        case errc::queue_overflow:
        case errc::session_taken_over:
        case errc::disconnected_by_admin:
            return true;
        case errc::session_continued:
        case errc::credentials_revoked:
        case errc::store_failure:
        case errc::server_shutdown:
        // Before a CONNECT is accepted: no will yet.
        case errc::connect_timeout:
        case errc::server_busy:
        case errc::bad_credentials:
        case errc::not_authorized:
        case errc::unacceptable_protocol_version:
        case errc::identifier_rejected:
            return false;
    }
    return true;
}

}  // namespace vigil::mqtt
