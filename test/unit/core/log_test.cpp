#include <vigil/core/log.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::string_literals;

TEST_CASE("log: control characters are escaped, so no text can forge a line", "[log]") {
    std::string out;
    vigil::log::append_escaped(out, "evil\n2030-01-01T00:00:00.000Z error forged\r\t\x1b[31m\x7f"s + '\0' + "end \xC3\xA9");
    CHECK(out == "evil\\n2030-01-01T00:00:00.000Z error forged\\r\\t\\x1b[31m\\x7f\\x00end \xC3\xA9");
    CHECK(out.find('\n') == std::string::npos);
}
