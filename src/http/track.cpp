#include <vigil/http/track.hpp>

#include <vigil/http/json.hpp>

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace vigil::http {
namespace {

/// Distance of `p` from the line through `a` and `b`, in degrees scaled so that a degree of
/// longitude counts as cos(latitude) of a degree of latitude (good enough to rank points).
double offset(const track_point& p, const track_point& a, const track_point& b) {
    const double k = std::cos((a.lat + b.lat) * 0.5 * 3.14159265358979323846 / 180.0);
    const double ax = a.lon * k;
    const double bx = b.lon * k;
    const double px = p.lon * k;
    const double dx = bx - ax;
    const double dy = b.lat - a.lat;
    const double len2 = dx * dx + dy * dy;
    if (len2 == 0) {
        return std::hypot(px - ax, p.lat - a.lat);
    }
    const double t = std::clamp(((px - ax) * dx + (p.lat - a.lat) * dy) / len2, 0.0, 1.0);
    return std::hypot(px - (ax + t * dx), p.lat - (a.lat + t * dy));
}

}  // namespace

std::optional<track_point> position_of(std::string_view payload, std::string_view lat_field,
                                       std::string_view lon_field) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    double lat = 0;
    double lon = 0;
    if (payload.empty() || parser.parse(payload.data(), payload.size(), true).get(doc) != simdjson::SUCCESS ||
        doc[lat_field].get(lat) != simdjson::SUCCESS || doc[lon_field].get(lon) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) {
        return std::nullopt;
    }
    return track_point{0, lat, lon};
}

std::vector<track_point> simplify(const std::vector<track_point>& points, std::size_t max_points) {
    if (points.size() <= max_points || max_points < 2) {
        return points;
    }
    // Each point's rank: the offset at which Douglas-Peucker would split at it. A split's
    // rank is capped by its parent's, so keeping the highest ranks keeps a valid DP result.
    std::vector<double> rank(points.size(), 0.0);
    rank.front() = rank.back() = INFINITY;
    std::vector<std::pair<std::size_t, std::size_t>> todo{{0, points.size() - 1}};
    std::vector<double> cap{INFINITY};
    while (!todo.empty()) {
        const auto [lo, hi] = todo.back();
        const double limit = cap.back();
        todo.pop_back();
        cap.pop_back();
        if (hi - lo < 2) {
            continue;
        }
        std::size_t best = lo + 1;
        double far = -1;
        for (std::size_t i = lo + 1; i < hi; ++i) {
            const double d = offset(points[i], points[lo], points[hi]);
            if (d > far) {
                far = d;
                best = i;
            }
        }
        rank[best] = std::min(far, limit);
        todo.push_back({lo, best});
        cap.push_back(rank[best]);
        todo.push_back({best, hi});
        cap.push_back(rank[best]);
    }
    std::vector<std::size_t> order(points.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::nth_element(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(max_points), order.end(),
        [&rank](std::size_t a, std::size_t b) { return rank[a] > rank[b] || (rank[a] == rank[b] && a < b); });
    order.resize(max_points);
    std::sort(order.begin(), order.end());
    std::vector<track_point> out;
    out.reserve(max_points);
    for (const std::size_t i : order) {
        out.push_back(points[i]);
    }
    return out;
}

std::string track_geojson(std::string_view device, const std::vector<track_point>& points, std::size_t total_points) {
    std::string out = R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[)";
    for (std::size_t i = 0; i < points.size(); ++i) {
        out += fmt::format("{}[{},{}]", i == 0 ? "" : ",", points[i].lon, points[i].lat);
    }
    out += R"(]},"properties":{"device":)";
    append_json_string(out, device);
    out += R"(,"times":[)";
    for (std::size_t i = 0; i < points.size(); ++i) {
        out += fmt::format("{}{}", i == 0 ? "" : ",", points[i].time_ms);
    }
    out += fmt::format(R"(],"points":{},"total_points":{}}}}})", points.size(), total_points);
    return out;
}

}  // namespace vigil::http
