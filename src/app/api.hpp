#pragma once
// The HTTP routes of the executable: /healthz and /api/v1/devices over the broker's state.

#include <vigil/http/server.hpp>
#include <vigil/mqtt/broker/broker.hpp>

namespace vigil::app {

/// Routes for `b` (which must outlive the handler). Every error is a JSON body with its status.
[[nodiscard]] http::handler make_api(const mqtt::broker& b);

}  // namespace vigil::app
