#pragma once
// GET /api/v1/history: archived messages by topic or filter and time range, a page at a time.

#include <vigil/http/server.hpp>
#include <vigil/mqtt/broker/broker.hpp>

#include <string_view>

namespace vigil::app {

/// Answers `GET /api/v1/history?topic=F&from=T&to=T&limit=N&order=asc|desc&cursor=C`. Checks
/// the parameters on the shard (400 with the reason) and reads the archive off it
/// (response::later). `from` defaults to an hour before `to`, `to` to now; `limit` to 1,000
/// (at most 10,000).
[[nodiscard]] http::response history_request(const mqtt::broker& b, std::string_view target, const http::caller& who);

}  // namespace vigil::app
