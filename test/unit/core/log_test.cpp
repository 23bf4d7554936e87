#include <vigil/core/log.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::string_literals;

TEST_CASE("log: control characters are escaped, so no text can forge a line", "[log]") {
    std::string out;
    vigil::log::append_escaped(out,
                               "evil\n2030-01-01T00:00:00.000Z error forged\r\t\x1b[31m\x7f"s + '\0' + "end \xC3\xA9");
    CHECK(out == "evil\\n2030-01-01T00:00:00.000Z error forged\\r\\t\\x1b[31m\\x7f\\x00end \xC3\xA9");
    CHECK(out.find('\n') == std::string::npos);
}

TEST_CASE("log: a text line has the time, the level and the escaped message", "[log]") {
    // 2026-12-07T05:40:24.123Z
    const auto line = vigil::log::format_line(vigil::log::format::text, vigil::log::level::warn, 1796622024123, "a\nb");
    CHECK(line == "2026-12-07T05:40:24.123Z warn a\\nb");
}

TEST_CASE("log: a JSON line is one object whose message is valid JSON whatever its bytes", "[log]") {
    using vigil::log::format;
    using vigil::log::level;
    CHECK(vigil::log::format_line(format::json, level::info, 1796622024123, "client 'x\"y' said \\hi\\") ==
          R"({"time":"2026-12-07T05:40:24.123Z","level":"info","msg":"client 'x\"y' said \\hi\\"})");
    // A newline cannot end the object early; invalid UTF-8 becomes U+FFFD.
    CHECK(vigil::log::format_line(format::json, level::error, 0, "a\nb\xff") ==
          "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"error\",\"msg\":\"a\\u000ab\xEF\xBF\xBD\"}");
    vigil::log::format f{};
    CHECK(vigil::log::parse_format("json", f));
    CHECK(f == format::json);
    CHECK_FALSE(vigil::log::parse_format("xml", f));
}
