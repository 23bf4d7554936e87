#include <vigil/http/devices.hpp>
#include <vigil/http/json.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

#include <simdjson.h>

using namespace vigil;
using vigil::test::as_span;

namespace {

message_ref msg(std::string_view topic, std::string_view payload, std::int64_t t = 1000) {
    return message::make(topic, as_span(payload), qos::at_most_once, false, t);
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
    simdjson::dom::element doc;
    REQUIRE(p.parse(text).get(doc) == simdjson::SUCCESS);
    return doc;
}

}  // namespace

TEST_CASE("json strings are escaped and always valid UTF-8", "[http][json]") {
    std::string out;
    http::append_json_string(out, "a\"b\\c\n\x01");
    CHECK(out == R"("a\"b\\c\u000a\u0001")");
    out.clear();
    http::append_json_string(out, "caf\xC3\xA9 \xFF \xC0\x80 \xED\xA0\x80");  // é, bad byte, overlong, surrogate
    CHECK(out == "\"caf\xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("payloads are embedded as JSON only when they are JSON", "[http][json]") {
    std::string out;
    http::append_payload(out, *msg("t", R"({"lat":1.5,"lon":2})"));
    CHECK(out == R"({"lat":1.5,"lon":2})");
    out.clear();
    http::append_payload(out, *msg("t", "online"));
    CHECK(out == R"("online")");
    out.clear();
    http::append_payload(out, *msg("t", R"({"lat":)"));  // truncated JSON is a string
    CHECK(out == R"("{\"lat\":")");
    out.clear();
    http::append_payload(out, *msg("t", ""));
    CHECK(out == R"("")");
    out.clear();
    http::append_payload(out, *msg("t", "42"));
    CHECK(out == "42");
}

TEST_CASE("devices group last values and derive online from status", "[http][json]") {
    const std::vector<message_ref> values{
        msg("devices/car-2/location", R"({"lat":1})", 5000),
        msg("devices/car-2/status", "offline", 4000),
        msg("devices/car-1/status", R"({"online":true,"battery":80})", 3000),
        msg("devices/car-3/location", R"({"lat":3})", 2000),
        msg("devices/car-4/status", R"({"online":false})", 1000),
        msg("devices/car-5/status", "online", 1000),
        msg("fleet/other", "x"),
        msg("devices/too/deep/topic", "x"),
    };
    const std::string text = http::devices_json(values);
    simdjson::dom::parser p;
    const auto doc = parse(p, text);
    simdjson::dom::array devices;
    REQUIRE(doc["devices"].get(devices) == simdjson::SUCCESS);
    REQUIRE(devices.size() == 5);
    std::vector<std::string> ids;
    for (auto d : devices) {
        ids.emplace_back(std::string_view(d["id"]));
    }
    CHECK(ids == std::vector<std::string>{"car-1", "car-2", "car-3", "car-4", "car-5"});
    CHECK(bool(devices.at(0)["online"]));
    CHECK_FALSE(bool(devices.at(1)["online"]));
    CHECK(devices.at(2)["online"].is_null());
    CHECK_FALSE(bool(devices.at(3)["online"]));
    CHECK(bool(devices.at(4)["online"]));
    CHECK(int64_t(devices.at(1)["updated"]) == 5000);
    CHECK(int64_t(devices.at(1)["values"]["location"]["payload"]["lat"]) == 1);
    CHECK(std::string_view(devices.at(1)["values"]["status"]["payload"]) == "offline");

    const auto one = http::device_json(values, "car-2");
    REQUIRE(one);
    CHECK(std::string_view(parse(p, *one)["id"]) == "car-2");
    CHECK_FALSE(http::device_json(values, "car-9"));
    CHECK(std::string_view(parse(p, http::error_json(404, "no \"such\" device"))["error"]["message"]) ==
          "no \"such\" device");
}
