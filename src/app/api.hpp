#pragma once
// The HTTP routes of the executable: /healthz, /metrics, /api/v1/devices, /api/v1/history over
// the broker's state and its archive, and /api/v1/admin/ (admin_api.hpp).

#include "admin_api.hpp"
#include "settings_cell.hpp"

#include <vigil/http/server.hpp>
#include <vigil/mqtt/broker/broker.hpp>
#include <vigil/probe/probe.hpp>

namespace vigil::app {

/// Routes for `b` configured by `s` (as it started; `live`: as SIGHUP changed it since), with
/// the end-to-end probe's results (null: off) and the HTTP server's tokens and counters; all must outlive
/// the handler. Every error is a JSON body with its status.
[[nodiscard]] http::handler make_api(const mqtt::broker& b, const config::settings& s, const settings_cell& live,
                                     const probe::prober* probe, const server_access& server);

}  // namespace vigil::app
