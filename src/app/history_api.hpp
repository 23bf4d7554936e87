#pragma once
// GET /api/v1/history (archived messages by topic or filter and time range, a page at a time)
// and GET /api/v1/devices/{id}/track (a device's positions as GeoJSON).

#include <vigil/http/server.hpp>
#include <vigil/mqtt/broker/broker.hpp>

#include <string>
#include <string_view>

namespace vigil::app {

/// Answers `GET /api/v1/history?topic=F&from=T&to=T&limit=N&order=asc|desc&cursor=C`. Checks
/// the parameters on the shard (400 with the reason) and reads the archive off it
/// (response::later). `from` defaults to an hour before `to`, `to` to now; `limit` to 1,000
/// (at most 10,000).
[[nodiscard]] http::response history_request(const mqtt::broker& b, std::string_view target, const http::caller& who);

struct track_fields {
    std::string lat;
    std::string lon;
};

/// Answers `GET /api/v1/devices/{id}/track?from=T&to=T&max_points=N`: the positions archived on
/// `devices/{id}/location` as a GeoJSON LineString, simplified to at most `max_points` (default
/// 1,000, at most 100,000; at least 2). Payloads without a position are skipped.
[[nodiscard]] http::response track_request(const mqtt::broker& b, std::string_view device, std::string_view target,
                                           const http::caller& who, const track_fields& fields);

}  // namespace vigil::app
