#include "history_format.hpp"

#include <vigil/core/topic.hpp>
#include <vigil/http/json.hpp>

#include <fmt/compile.h>
#include <fmt/format.h>

#include <chrono>
#include <iterator>
#include <span>

namespace vigil::app {
namespace {

/// A CSV field, quoted when it holds a comma, a quote or a line break (quotes doubled).
void append_csv_field(std::string& out, std::string_view v) {
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
        out += v;
        return;
    }
    out += '"';
    for (std::size_t from = 0;;) {
        const auto quote = v.find('"', from);
        if (quote == std::string_view::npos) {
            out.append(v.substr(from));
            break;
        }
        out.append(v.substr(from, quote + 1 - from));
        out += '"';
        from = quote + 1;
    }
    out += '"';
}

}  // namespace

std::optional<record_format> parse_format(std::string_view name) {
    if (name == "json") {
        return record_format::json;
    }
    if (name == "ndjson") {
        return record_format::ndjson;
    }
    if (name == "csv") {
        return record_format::csv;
    }
    return std::nullopt;
}

void append_json_record(std::string& out, const archive::record& r) {
    out += "{\"topic\":";
    http::append_json_string(out, r.topic);
    out += fmt::format(",\"time\":{},\"qos\":{},\"retain\":{},\"client\":", r.time_ms, static_cast<unsigned>(r.q),
                       r.retain ? "true" : "false");
    http::append_json_string(out, r.client_id);
    out += ",\"payload\":";
    // A message pads its payload, as the JSON check needs.
    const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(r.payload.data()),
                                              r.payload.size()};
    http::append_payload(out, *message::make(r.topic, bytes, r.q, r.retain, r.time_ms));
    out += '}';
}

void append_csv_header(std::string& out) { out += "time,time_ms,topic,qos,retain,client,payload\r\n"; }

void append_csv_record(std::string& out, const archive::record& r) {
    // Formatted with compiled format strings: no format string is parsed per record.
    using namespace std::chrono;
    const sys_time<milliseconds> t{milliseconds{r.time_ms}};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{floor<seconds>(t - day)};
    fmt::format_to(std::back_inserter(out), FMT_COMPILE("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z,{},"),
                   static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                   hms.hours().count(), hms.minutes().count(), hms.seconds().count(), r.time_ms);
    append_csv_field(out, r.topic);
    fmt::format_to(std::back_inserter(out), FMT_COMPILE(",{},{},"), static_cast<unsigned>(r.q),
                   r.retain ? "true" : "false");
    append_csv_field(out, r.client_id);
    out += ',';
    if (topic::valid_utf8(r.payload)) {
        append_csv_field(out, r.payload);
    } else {
        out += "\\x";
        for (const char c : r.payload) {
            out += fmt::format("{:02x}", static_cast<unsigned char>(c));
        }
    }
    out += "\r\n";
}

void append_record(std::string& out, const archive::record& r, record_format f) {
    switch (f) {
        case record_format::json:
            append_json_record(out, r);
            break;
        case record_format::ndjson:
            append_json_record(out, r);
            out += '\n';
            break;
        case record_format::csv:
            append_csv_record(out, r);
            break;
    }
}

}  // namespace vigil::app
