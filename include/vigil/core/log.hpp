#pragma once
/// One line per event to stderr, with a level (journald friendly): text, or one JSON object
/// per line for log shippers.
/// Thread safety: safe; a line is written with one write(2).

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::log {

enum class level : std::uint8_t { debug, info, warn, error };

/// text: `2026-12-07T05:40:24.123Z info message`; json: `{"time":"2026-12-07T05:40:24.123Z",
/// "level":"info","msg":"message"}` (the message's bytes made valid JSON).
enum class format : std::uint8_t { text, json };

void set_level(level l) noexcept;
void set_format(format f) noexcept;
[[nodiscard]] bool enabled(level l) noexcept;
/// Writes one line; control characters in `text` are escaped (see append_escaped).
void write(level l, std::string_view text);
/// Appends `text` with control characters escaped (\n, \r, \t, \xNN): client ids, topics,
/// usernames and headers end up in log lines, and a newline in one must not forge a line.
void append_escaped(std::string& out, std::string_view text);

/// Parses "debug", "info", "warn" or "error".
[[nodiscard]] bool parse_level(std::string_view name, level& out) noexcept;
/// Parses "text" or "json".
[[nodiscard]] bool parse_format(std::string_view name, format& out) noexcept;
/// One line as write() formats it (without the newline), at `ms` since the Unix epoch.
[[nodiscard]] std::string format_line(format f, level l, std::int64_t ms, std::string_view text);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::debug)) {
        write(level::debug, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::info)) {
        write(level::info, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::warn)) {
        write(level::warn, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    write(level::error, fmt::format(f, std::forward<Args>(args)...));
}

/// Lets at most one event per interval through; counts the rest.
/// Thread safety: safe.
class limiter {
public:
    explicit constexpr limiter(std::int64_t interval_ms = 1000) noexcept : interval_ns_(interval_ms * 1'000'000) {}
    /// True when this event may be logged; `suppressed` is how many were dropped since the last.
    [[nodiscard]] bool allow(std::uint64_t& suppressed) noexcept;

private:
    std::int64_t interval_ns_;
    // relaxed is enough: the CAS on next_ns_ elects one logger; the counter is statistics only.
    std::atomic<std::int64_t> next_ns_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace vigil::log

/// Rate-limited log line: at most one per second per call site, with the count it swallowed.
#define VIGIL_LOG_LIMITED(lvl, ...)                                                         \
    do {                                                                                    \
        static ::vigil::log::limiter vigil_log_limiter_;                                    \
        std::uint64_t vigil_suppressed_ = 0;                                                \
        if (vigil_log_limiter_.allow(vigil_suppressed_)) {                                  \
            ::vigil::log::lvl(__VA_ARGS__);                                                 \
            if (vigil_suppressed_ > 0) {                                                    \
                ::vigil::log::lvl("(and {} similar events suppressed)", vigil_suppressed_); \
            }                                                                               \
        }                                                                                   \
    } while (false)
