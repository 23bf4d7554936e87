#include <vigil/core/text.hpp>
#include <vigil/core/utf8.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using vigil::split_commas;
using vigil::trim_spaces;
using vigil::utf8_sequence;
using list = std::vector<std::string_view>;

TEST_CASE("split_commas keeps every item as it is", "[core]") {
    CHECK(split_commas("").empty());
    CHECK(split_commas("a") == list{"a"});
    CHECK(split_commas("a/+,b/#") == list{"a/+", "b/#"});
    CHECK(split_commas("a,,b") == list{"a", "", "b"});
    CHECK(split_commas(",") == list{"", ""});
    CHECK(split_commas(" a , b") == list{" a ", " b"});
}

TEST_CASE("trim_spaces drops spaces and tabs at the ends only", "[core]") {
    CHECK(trim_spaces("") == "");
    CHECK(trim_spaces(" \t ") == "");
    CHECK(trim_spaces(" mqtt ") == "mqtt");
    CHECK(trim_spaces("\t\"c1\" ,") == "\"c1\" ,");
    CHECK(trim_spaces("a b") == "a b");
}

TEST_CASE("utf8_sequence accepts well-formed sequences only", "[core]") {
    CHECK(utf8_sequence("\xC3\xA5") == 2);              // å
    CHECK(utf8_sequence("\xE2\x82\xAC rest") == 3);     // €
    CHECK(utf8_sequence("\xF0\x9F\x9A\x93") == 4);      // U+1F693
    CHECK(utf8_sequence("\xF4\x8F\xBF\xBF") == 4);      // U+10FFFF
    CHECK(utf8_sequence("\xF4\x90\x80\x80") == 0);      // past U+10FFFF
    CHECK(utf8_sequence("\xC0\xAF") == 0);              // overlong '/'
    CHECK(utf8_sequence("\xE0\x80\xAF") == 0);          // overlong
    CHECK(utf8_sequence("\xED\xA0\x80") == 0);          // a surrogate
    CHECK(utf8_sequence("\xE2\x82") == 0);              // cut short
    CHECK(utf8_sequence("\xC3\x41") == 0);              // not a continuation byte
    CHECK(utf8_sequence("\x80") == 0);                  // a continuation byte first
    CHECK(utf8_sequence("\xF8\x88\x80\x80\x80") == 0);  // five-byte forms are gone
}
