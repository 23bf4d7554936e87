#pragma once
/// Error codes of the MQTT protocol layers.

#include <vigil/core/error.hpp>

#include <type_traits>

namespace vigil::mqtt {

enum class errc : int {
    malformed_packet = 1,           ///< bytes that do not form an MQTT 3.1.1 packet
    protocol_violation,             ///< a well-formed packet the spec forbids here
    unacceptable_protocol_version,  ///< CONNACK return code 0x01
    identifier_rejected,            ///< CONNACK return code 0x02
    packet_too_large,               ///< larger than limits::max_packet_size
    invalid_utf8,                   ///< ill-formed UTF-8 or U+0000 in a string
    invalid_topic,                  ///< bad topic name or filter
    connect_timeout,                ///< no CONNECT in time
    keep_alive_timeout,             ///< silent for 1.5 x keep-alive
    session_taken_over,             ///< another connection took this client id
    queue_overflow,                 ///< more than max_queued messages pending
    server_shutdown,                ///< the broker is stopping
    bad_credentials,                ///< CONNACK return code 0x04
    not_authorized,                 ///< CONNACK return code 0x05
    store_failure,                  ///< the store could not commit what an ack covers
    credentials_revoked,            ///< a reload removed or changed what the client logged in with
    server_busy,                    ///< CONNACK return code 0x03: too many password checks waiting
    packet_timeout,                 ///< a packet begun was not finished within packet_timeout
    control_character,              ///< U+0001-U+001F or U+007F-U+009F in a topic, client id or username
    disconnected_by_admin,          ///< an operator disconnected it (admin API)
    session_continued,              ///< the client reconnected; its persistent session continues there
};

const boost::system::error_category& mqtt_category() noexcept;

inline error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), mqtt_category()}; }

}  // namespace vigil::mqtt

template <>
struct boost::system::is_error_code_enum<vigil::mqtt::errc> : std::true_type {};
