#pragma once
// The HTTP routes of the executable: /healthz, /api/v1/devices and /api/v1/history over the
// broker's state and its archive.

#include <vigil/http/server.hpp>
#include <vigil/mqtt/broker/broker.hpp>

namespace vigil::app {

/// Routes for `b` (which must outlive the handler). Every error is a JSON body with its status.
/// `archive`: where tracks find positions in location payloads.
[[nodiscard]] http::handler make_api(const mqtt::broker& b, const config::archive_settings& archive);

}  // namespace vigil::app
