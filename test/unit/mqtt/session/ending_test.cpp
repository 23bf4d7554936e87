// How connections end: the reason counted, and whether the will goes out, for every ending.
#include <vigil/mqtt/codec/errc.hpp>
#include <vigil/mqtt/session/ending.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
namespace asio = boost::asio;

TEST_CASE("ending: the will goes out on every ending the client did not ask for", "[session][will]") {
    struct row {
        vigil::error_code ec;
        disconnect_reason reason;
        bool will;
    };
    const row table[] = {
        {{}, disconnect_reason::clean, false},  // DISCONNECT [MQTT-3.1.2-10]
        {asio::error::eof, disconnect_reason::connection_lost, true},
        {asio::error::connection_reset, disconnect_reason::connection_lost, true},
        {asio::error::timed_out, disconnect_reason::connection_lost, true},
        {asio::ssl::error::stream_truncated, disconnect_reason::connection_lost, true},
        {make_error_code(errc::keep_alive_timeout), disconnect_reason::keepalive_timeout, true},
        {make_error_code(errc::malformed_packet), disconnect_reason::protocol_error, true},
        {make_error_code(errc::protocol_violation), disconnect_reason::protocol_error, true},
        {make_error_code(errc::packet_too_large), disconnect_reason::protocol_error, true},
        {make_error_code(errc::invalid_utf8), disconnect_reason::protocol_error, true},
        {make_error_code(errc::invalid_topic), disconnect_reason::protocol_error, true},
        {make_error_code(errc::control_character), disconnect_reason::protocol_error, true},
        {make_error_code(errc::packet_timeout), disconnect_reason::limit, true},
        {make_error_code(errc::queue_overflow), disconnect_reason::limit, true},
        {make_error_code(errc::session_taken_over), disconnect_reason::takeover, true},
        {make_error_code(errc::session_continued), disconnect_reason::takeover, false},
        {make_error_code(errc::disconnected_by_admin), disconnect_reason::admin, true},
        {make_error_code(errc::credentials_revoked), disconnect_reason::revoked, false},
        {make_error_code(errc::store_failure), disconnect_reason::store_failure, false},
        {make_error_code(errc::server_shutdown), disconnect_reason::shutdown, false},
        // Endings before a CONNECT is accepted: there is no will yet, so none is published.
        {make_error_code(errc::connect_timeout), disconnect_reason::limit, false},
        {make_error_code(errc::server_busy), disconnect_reason::limit, false},
        {make_error_code(errc::bad_credentials), disconnect_reason::auth_failure, false},
        {make_error_code(errc::not_authorized), disconnect_reason::auth_failure, false},
        {make_error_code(errc::unacceptable_protocol_version), disconnect_reason::protocol_error, false},
        {make_error_code(errc::identifier_rejected), disconnect_reason::protocol_error, false},
    };
    for (const auto& r : table) {
        INFO(r.ec.message());
        CHECK(reason_of(r.ec) == r.reason);
        CHECK(publishes_will(r.ec) == r.will);
    }
    // Every MQTT error is in the table: one added later must be decided here too.
    int mqtt_errors = 0;
    for (const auto& r : table) {
        mqtt_errors += r.ec.category() == mqtt_category() ? 1 : 0;
    }
    CHECK(mqtt_errors == static_cast<int>(errc::session_continued));
}
