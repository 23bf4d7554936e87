#pragma once
// The WebSocket handshake of `/mqtt` (MQTT over WebSocket); the broker serves what follows.

#include <vigil/http/server.hpp>

#include "stream.hpp"

#include <vigil/net/gate.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <vector>

namespace vigil::http {

/// Answers `req` (which offers the `mqtt` subprotocol) with 101 Switching Protocols, then
/// hands the socket, its TLS state and `pending` (bytes read past the request) to `adopt`.
void start_mqtt_upgrade(stream s, boost::beast::http::request<boost::beast::http::string_body> req,
                        std::vector<std::uint8_t> pending, const mqtt_adopter& adopt, bool allow_anonymous,
                        net::connection_gate::ticket ticket);

}  // namespace vigil::http
