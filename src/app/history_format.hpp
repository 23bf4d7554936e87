#pragma once
// Archived records as text: a JSON object (the history API's `records`, and NDJSON lines) and
// CSV rows (RFC 4180), shared by GET /api/v1/history and `vigil archive export`.

#include <vigil/archive/archive.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace vigil::app {

enum class record_format { json, ndjson, csv };

/// "json", "ndjson" or "csv"; nullopt for anything else.
[[nodiscard]] std::optional<record_format> parse_format(std::string_view name);

/// `{"topic":..,"time":..,"qos":..,"retain":..,"client":..,"payload":..}`, the payload embedded
/// as JSON when it is JSON, else as a string.
void append_json_record(std::string& out, const archive::record& r);

/// The CSV header row: time (RFC 3339, UTC, ms), time_ms, topic, qos, retain, client, payload.
void append_csv_header(std::string& out);
/// One CSV row. The payload is its text when it is UTF-8, else `\x` and its bytes in hex (as
/// PostgreSQL writes bytea), so no byte is lost.
void append_csv_record(std::string& out, const archive::record& r);

/// Appends `r` in `f` (json: the object alone; ndjson: it and a newline; csv: a row).
void append_record(std::string& out, const archive::record& r, record_format f);

}  // namespace vigil::app
