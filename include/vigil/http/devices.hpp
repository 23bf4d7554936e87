#pragma once
/// The device view of the last-value cache, for `/api/v1/devices`: topics of the form
/// `devices/{id}/{kind}` grouped by device.

#include <vigil/core/message.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::http {

/// `{"devices":[{"id":"car-7","online":true,"updated":1700000000123,
///   "values":{"location":{"payload":{...},"time":...},"status":{...}}}, ...]}`, devices
/// sorted by id. `online` comes from the `status` value: false when its payload is "offline"
/// (the usual will) or a JSON object with `"online": false`, true for any other status, null
/// without one. Messages whose topic is not `devices/{id}/{kind}` are left out.
[[nodiscard]] std::string devices_json(const std::vector<message_ref>& last_values);

/// One device, or nullopt when no value of it is known.
[[nodiscard]] std::optional<std::string> device_json(const std::vector<message_ref>& last_values, std::string_view id);

/// `{"error":{"status":404,"message":"..."}}`
[[nodiscard]] std::string error_json(unsigned status, std::string_view message);

}  // namespace vigil::http
