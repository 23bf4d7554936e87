#pragma once
/// Request targets: percent-decoding, query-string parameters, and the times the API accepts.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::http {

/// Decodes %XX escapes (a '+' stays a '+': it is an MQTT wildcard, not a space); nullopt on a
/// bad escape or a decoded NUL.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view s);

using params = std::map<std::string, std::string, std::less<>>;

/// The parameters after '?' in `target`, decoded. nullopt, with `error` set, on a bad escape
/// or a parameter given twice.
[[nodiscard]] std::optional<params> query_params(std::string_view target, std::string& error);

/// A time as the API takes it: milliseconds since the Unix epoch ("1764770400000"), or RFC 3339
/// ("2026-12-03T14:00:00Z", "2026-12-03T14:00:00.250+01:00"). nullopt on anything else.
[[nodiscard]] std::optional<std::int64_t> parse_time(std::string_view text);

}  // namespace vigil::http
