// Request targets: percent-decoding, parameters, and the times the API takes.
#include <vigil/http/query.hpp>

#include <catch2/catch.hpp>

using namespace vigil::http;

TEST_CASE("query: percent-decoding keeps '+' (an MQTT wildcard) and refuses bad escapes and NUL", "[http]") {
    CHECK(percent_decode("devices/%2B/events") == "devices/+/events");
    CHECK(percent_decode("devices/+/events") == "devices/+/events");
    CHECK(percent_decode("a%23") == "a#");
    CHECK(percent_decode("%e2%82%AC") == "\xe2\x82\xac");
    CHECK(!percent_decode("%"));
    CHECK(!percent_decode("a%2"));
    CHECK(!percent_decode("%zz"));
    CHECK(!percent_decode("%00"));
}

TEST_CASE("query: parameters are decoded; a repeated one or a bad escape is an error", "[http]") {
    std::string error;
    const auto p = query_params("/api/v1/history?topic=devices%2F%2B%2Fevents&limit=10&&order=", error);
    REQUIRE(p);
    CHECK(p->at("topic") == "devices/+/events");
    CHECK(p->at("limit") == "10");
    CHECK(p->at("order").empty());
    CHECK(p->size() == 3);
    CHECK(query_params("/api/v1/history", error)->empty());
    // A literal '+' is an MQTT wildcard, not a form-encoded space.
    CHECK(query_params("/x?topic=devices/+/location", error)->at("topic") == "devices/+/location");
    CHECK(!query_params("/x?a=%00", error));
    // A target inside a larger buffer (as Beast's is) ends where its view ends.
    const std::string request = "GET /x?limit=5&topic=abc%2B HTTP/1.1\r\nHost: x\r\n";
    const auto inside = query_params(std::string_view{request}.substr(4, 23), error);
    REQUIRE(inside);
    CHECK(inside->at("topic") == "abc+");
    CHECK(!query_params("/x?a=1&a=2", error));
    CHECK(error.find("twice") != std::string::npos);
    CHECK(!query_params("/x?a=%G0", error));
    CHECK(error.find("escape") != std::string::npos);
}

TEST_CASE("query: times as epoch milliseconds or RFC 3339 with an offset", "[http]") {
    CHECK(parse_time("0") == 0);
    CHECK(parse_time("1764770400000") == 1764770400000);
    CHECK(parse_time("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_time("2025-12-03T14:00:00Z") == 1764770400000);
    CHECK(parse_time("2025-12-03t14:00:00.250z") == 1764770400250);
    CHECK(parse_time("2025-12-03T15:00:00.25+01:00") == 1764770400250);
    CHECK(parse_time("2025-12-03T09:30:00-04:30") == 1764770400000);
    CHECK(parse_time("2025-12-03 14:00:00Z") == 1764770400000);
    CHECK(parse_time("2024-02-29T00:00:00Z").has_value());  // a leap day
    for (const char* bad :
         {"", "-1", "yesterday", "2025-12-03", "2025-12-03T14:00:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
          "2025-12-03T24:00:00Z", "2025-12-03T14:60:00Z", "2025-12-03T14:00:00.Z", "2025-12-03T14:00:00+1:00",
          "2025-12-03T14:00:00Zjunk", "99999999999999999999999"}) {
        INFO(bad);
        CHECK(!parse_time(bad));
    }
}
