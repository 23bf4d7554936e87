#pragma once
/// MQTT topic names, topic filters and the matching rules of MQTT 3.1.1 §4.7.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::topic {

/// Longest topic or filter accepted: a UTF-8 string in MQTT is at most 65,535 bytes.
constexpr std::size_t max_length = 65535;

/// True when `s` is well-formed UTF-8 without U+0000 [MQTT-1.5.3-1, MQTT-1.5.3-2].
[[nodiscard]] bool valid_utf8(std::string_view s) noexcept;

/// True when `s` (valid UTF-8) holds a control character, U+0001-U+001F or U+007F-U+009F:
/// the standard lets a server refuse them [MQTT-1.5.3], and Vigil does in topics, filters,
/// client ids and usernames, which end up in logs and on dashboards.
[[nodiscard]] bool has_control_character(std::string_view s) noexcept;

/// A topic name for PUBLISH: non-empty, no '+' or '#' [MQTT-4.7.3-1, MQTT-3.3.2-2].
/// UTF-8 validity is checked separately (the codec does both).
[[nodiscard]] bool valid_name(std::string_view name) noexcept;

/// A topic filter for SUBSCRIBE/UNSUBSCRIBE: non-empty; '#' only alone as the last level;
/// '+' only as a whole level [MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1].
[[nodiscard]] bool valid_filter(std::string_view filter) noexcept;

/// True when `filter` (valid) matches `name` (valid). '#' also matches the parent level;
/// a first-level wildcard never matches a name starting with '$' [MQTT-4.7.2-1].
/// Complexity: linear in the lengths.
[[nodiscard]] bool matches(std::string_view filter, std::string_view name) noexcept;

/// True when every topic `inner` (a valid filter) matches is also matched by `outer` (a valid
/// filter): `devices/#` covers `devices/+/location` and `devices`; `devices/+/location` does
/// not cover `devices/#`; `#` does not cover `$SYS/#` [MQTT-4.7.2-1]. The one coverage rule
/// of routing, ACLs and API tokens.
[[nodiscard]] bool covers(std::string_view outer, std::string_view inner) noexcept;

/// The filter matching exactly the topics that both `a` and `b` (valid filters) match, or
/// nullopt when no topic matches both: `devices/+/status` and `devices/car-9/#` intersect in
/// `devices/car-9/status`; `#` and `$SYS/#` are disjoint. Two filters can intersect without
/// either covering the other, which is why a deny rule is checked with this, not `covers`.
[[nodiscard]] std::optional<std::string> intersect(std::string_view a, std::string_view b);

/// Splits at '/': calls `f(level, is_last)` for each level, left to right.
template <class F>
void for_each_level(std::string_view s, F&& f) {
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = s.find('/', start);
        if (slash == std::string_view::npos) {
            f(s.substr(start), true);
            return;
        }
        f(s.substr(start, slash - start), false);
        start = slash + 1;
    }
}

}  // namespace vigil::topic
