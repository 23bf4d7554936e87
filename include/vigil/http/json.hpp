#pragma once
/// JSON text building for the HTTP API and the WebSocket push protocol: escaped strings, and
/// message payloads embedded as JSON when they are valid JSON, as strings otherwise.

#include <vigil/core/json_string.hpp>
#include <vigil/core/message.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vigil::http {

using vigil::append_json_string;

/// True when `payload` is one complete JSON value. `payload` must be followed by
/// `payload_padding` readable bytes (every message payload is).
[[nodiscard]] bool is_json(std::span<const std::uint8_t> payload);

/// Appends a payload: as-is when it is JSON, else as a JSON string.
void append_payload(std::string& out, const message& m);

}  // namespace vigil::http
