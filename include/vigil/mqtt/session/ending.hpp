#pragma once
/// How a connection ends, without I/O: the reason the metrics and the audit log give, and
/// whether its will goes out [MQTT-3.1.2-8].

#include <vigil/core/error.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace vigil::mqtt {

/// Why an MQTT connection ended: a DISCONNECT, the network, a keep-alive timeout, a protocol
/// error, a takeover by the same client id, a refused login, revoked credentials, a limit
/// (queue, packet or connect timeout, server busy), the server stopping, a store failure, or
/// an operator (admin API).
enum class disconnect_reason : std::uint8_t {
    clean,
    connection_lost,
    keepalive_timeout,
    protocol_error,
    takeover,
    auth_failure,
    revoked,
    limit,
    shutdown,
    store_failure,
    admin
};
inline constexpr std::array<std::string_view, 11> disconnect_reason_names{
    "clean",   "connection_lost", "keepalive_timeout", "protocol_error", "takeover", "auth_failure",
    "revoked", "limit",           "shutdown",          "store_failure",  "admin"};

/// The reason for a connection closed with `ec`: no error is a DISCONNECT; an error outside
/// MQTT's (EOF, reset, TLS, WebSocket) is the network.
[[nodiscard]] disconnect_reason reason_of(const error_code& ec) noexcept;

/// Whether a connection that had a will and ended with `ec` publishes it. It does for every
/// ending the client did not ask for and the server did not cause: the network, keep-alive,
/// a protocol error, an unfinished packet, a full queue, a takeover (as Mosquitto 2.x), an
/// operator's disconnect. It does not after a DISCONNECT [MQTT-3.1.2-10], when a persistent
/// session continues on the client's new connection, when its credentials were revoked, when
/// the store failed (the client sends again), or when the server stops.
[[nodiscard]] bool publishes_will(const error_code& ec) noexcept;

}  // namespace vigil::mqtt
