#pragma once
// /api/v1/admin/...: the operators' API. It needs a token with the admin right (when tokens are
// configured; without tokens, a loopback client that is not a browser on another site), and
// every call, answered or refused, is written to the audit log with the token's name and the
// caller's address (an access_token in the query is not).
//
//   GET    /api/v1/admin/clients[?limit=N]                 MQTT clients connected now
//   GET    /api/v1/admin/sessions/{client id}              one session, online or offline
//   DELETE /api/v1/admin/clients/{client id}[?discard_session=true]
//   GET    /api/v1/admin/retained?topic=F[&limit=N]        retained messages matching a filter
//   DELETE /api/v1/admin/retained?topic=T                  delete one retained message
//   GET    /api/v1/admin/tokens                            API tokens in force (names and rights)
//   DELETE /api/v1/admin/tokens/{name}                     revoke: removed from tokens_file

#include "settings_cell.hpp"

#include <vigil/http/server.hpp>
#include <vigil/mqtt/broker/broker.hpp>

#include <functional>
#include <memory>

namespace vigil::app {

/// What the routes need of the HTTP server, which is built after them.
struct server_access {
    std::function<std::shared_ptr<const auth::token_file>()> tokens;
    /// Loads the tokens of the settings in force and applies them (as SIGHUP does; one load at
    /// a time, so a reload and a revocation cannot undo each other). Errors: throws.
    std::function<void()> reload_tokens;
    std::function<http::server_counters()> counters;
};

/// Answers a request under /api/v1/admin/ (`path` without the query).
[[nodiscard]] http::response admin_request(const mqtt::broker& b, const settings_cell& live,
                                           const server_access& server, std::string_view method,
                                           std::string_view target, std::string_view path, const http::caller& who);

}  // namespace vigil::app
