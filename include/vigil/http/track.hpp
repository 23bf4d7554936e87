#pragma once
/// A device's track as GeoJSON: positions read from archived location payloads, simplified
/// (Douglas-Peucker) to at most a given number of points while keeping the shape.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::http {

struct track_point {
    std::int64_t time_ms = 0;
    double lat = 0;
    double lon = 0;
};

/// The position in a JSON payload with numeric fields `lat_field` and `lon_field` (latitude
/// -90..90, longitude -180..180); nullopt for anything else.
[[nodiscard]] std::optional<track_point> position_of(std::string_view payload, std::string_view lat_field,
                                                     std::string_view lon_field);

/// At most `max_points` of `points` (max_points >= 2), first and last always kept: the points
/// Douglas-Peucker keeps longest as its tolerance grows, in their original order.
[[nodiscard]] std::vector<track_point> simplify(const std::vector<track_point>& points, std::size_t max_points);

/// `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[lon,lat],...]},
///   "properties":{"device":"car-7","times":[ms,...],"points":N,"total_points":M}}`
[[nodiscard]] std::string track_geojson(std::string_view device, const std::vector<track_point>& points,
                                        std::size_t total_points);

}  // namespace vigil::http
