// Tracks: positions from payloads, Douglas-Peucker simplification to a point budget, GeoJSON.
#include <vigil/http/track.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace vigil::http;

TEST_CASE("track: positions come from numeric fields in range, named as configured", "[http]") {
    const auto p = position_of(R"({"lat": 59.33, "lon": 18.06, "speed": 40})", "lat", "lon");
    REQUIRE(p);
    CHECK(p->lat == Approx(59.33));
    CHECK(p->lon == Approx(18.06));
    CHECK(position_of(R"({"latitude": 1.5, "longitude": -2})", "latitude", "longitude"));
    CHECK(!position_of(R"({"latitude": 1.5, "longitude": -2})", "lat", "lon"));
    CHECK(!position_of(R"({"lat": "59", "lon": 18})", "lat", "lon"));
    CHECK(!position_of(R"({"lat": 91, "lon": 18})", "lat", "lon"));
    CHECK(!position_of(R"({"lat": 10, "lon": -180.5})", "lat", "lon"));
    CHECK(!position_of("not json", "lat", "lon"));
    CHECK(!position_of("", "lat", "lon"));
    CHECK(!position_of("[1, 2]", "lat", "lon"));
}

TEST_CASE("track: simplification keeps the ends, the corners and the order within the budget", "[http]") {
    // An L: 500 points east along latitude 0, then 500 north; and a spike in the middle of the
    // first leg that any shape-keeping simplification must keep.
    std::vector<track_point> pts;
    for (int i = 0; i < 500; ++i) {
        pts.push_back({i, i == 250 ? 0.5 : 0.0, i * 0.001});
    }
    for (int i = 0; i < 500; ++i) {
        pts.push_back({500 + i, i * 0.001, 0.5});
    }
    const auto s = simplify(pts, 5);
    REQUIRE(s.size() == 5);
    CHECK(s.front().time_ms == 0);
    CHECK(s.back().time_ms == 999);
    std::vector<std::int64_t> times;
    for (const auto& p : s) {
        times.push_back(p.time_ms);
    }
    CHECK(std::is_sorted(times.begin(), times.end()));
    CHECK(std::find(times.begin(), times.end(), 250) != times.end());  // the spike
    CHECK(std::count_if(times.begin(), times.end(), [](std::int64_t t) { return t == 499 || t == 500; }) >=
          1);  // the corner
    CHECK(simplify(pts, 2000).size() == pts.size());
    CHECK(simplify(pts, 2).size() == 2);
    // A straight line of many points simplifies to any budget with its ends kept.
    std::vector<track_point> line;
    for (int i = 0; i < 10'000; ++i) {
        line.push_back({i, 0.001 * i, 0.002 * i});
    }
    const auto l = simplify(line, 100);
    CHECK(l.size() == 100);
    CHECK(l.front().time_ms == 0);
    CHECK(l.back().time_ms == 9999);
}

TEST_CASE("track: GeoJSON puts longitude first and the times beside", "[http]") {
    const std::vector<track_point> pts{{1000, 59.5, 18.25}, {2000, 59.75, 18.5}};
    CHECK(track_geojson("car-7", pts, 3) ==
          R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[[18.25,59.5],[18.5,59.75]]},)"
          R"("properties":{"device":"car-7","times":[1000,2000],"points":2,"total_points":3}})");
}
