#include <vigil/core/log.hpp>

#include <vigil/core/json_string.hpp>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>

namespace vigil::log {
namespace {
// relaxed: the level is a filter; a racing reader seeing the old level is harmless.
std::atomic<level> g_level{level::info};
// relaxed: a line written in the old format while the format changes is harmless.
std::atomic<format> g_format{format::text};

constexpr std::string_view level_name(level l) noexcept {
    switch (l) {
        case level::debug:
            return "debug";
        case level::info:
            return "info";
        case level::warn:
            return "warn";
        case level::error:
            return "error";
    }
    return "?";
}
}  // namespace

void append_escaped(std::string& out, std::string_view text) {
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c != 0x7f) {
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        }
    }
}

void set_level(level l) noexcept { g_level.store(l, std::memory_order_relaxed); }

void set_format(format f) noexcept { g_format.store(f, std::memory_order_relaxed); }

bool parse_format(std::string_view name, format& out) noexcept {
    if (name == "text" || name == "json") {
        out = name == "text" ? format::text : format::json;
        return true;
    }
    return false;
}

bool enabled(level l) noexcept { return l >= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view name, level& out) noexcept {
    for (const level l : {level::debug, level::info, level::warn, level::error}) {
        if (name == level_name(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

std::string format_line(format f, level l, std::int64_t ms, std::string_view text) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const std::string time = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
    std::string line;
    if (f == format::json) {
        line = fmt::format(R"({{"time":"{}","level":"{}","msg":)", time, level_name(l));
        append_json_string(line, text);
        line += '}';
    } else {
        line = fmt::format("{} {} ", time, level_name(l));
        append_escaped(line, text);
    }
    return line;
}

void write(level l, std::string_view text) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    std::string line = format_line(g_format.load(std::memory_order_relaxed), l, ms, text);
    line += '\n';
    std::size_t off = 0;
    while (off < line.size()) {
        const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n <= 0) {
            return;
        }
        off += static_cast<std::size_t>(n);
    }
}

bool limiter::allow(std::uint64_t& suppressed) noexcept {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    std::int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now >= next && next_ns_.compare_exchange_strong(next, now + interval_ns_, std::memory_order_relaxed)) {
        suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
        return true;
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

}  // namespace vigil::log
