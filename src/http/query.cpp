#include <vigil/http/query.hpp>

#include <boost/url/pct_string_view.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace vigil::http {
namespace {

namespace urls = boost::urls;

/// Reads exactly `n` digits at `pos`; false if they are not there.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
    if (pos + n > s.size()) {
        return false;
    }
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') {
            return false;
        }
        out = out * 10 + (c - '0');
    }
    pos += n;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, std::string_view chars) {
    if (pos < s.size() && chars.find(s[pos]) != std::string_view::npos) {
        ++pos;
        return true;
    }
    return false;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
    const auto escaped = urls::make_pct_string_view(s);
    if (!escaped) {
        return std::nullopt;
    }
    std::string out = escaped->decode();              // '+' stays '+'
    if (std::ranges::find(out, '\0') != out.end()) {  // (GCC 12 misjudges string::find's bound here)
        return std::nullopt;
    }
    return out;
}

std::optional<params> query_params(std::string_view target, std::string& error) {
    // Split here, decode with Boost.URL: 1.81's parse_query reads its last value past the end of
    // a view that is not NUL-terminated (a request target inside Beast's buffer is not).
    params out;
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return out;
    }
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!key || !value) {
            error = "a query parameter has a bad %-escape";
            return std::nullopt;
        }
        if (!out.emplace(std::move(*key), std::move(*value)).second) {
            error = "a query parameter is given twice";
            return std::nullopt;
        }
    }
    return out;
}

std::optional<std::int64_t> parse_time(std::string_view s) {
    if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) {
        std::int64_t ms = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
        if (ec != std::errc{} || end != s.data() + s.size()) {
            return std::nullopt;
        }
        return ms;
    }
    std::size_t pos = 0;
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!digits(s, pos, 4, year) || !expect(s, pos, "-") || !digits(s, pos, 2, month) || !expect(s, pos, "-") ||
        !digits(s, pos, 2, day) || !expect(s, pos, "Tt ") || !digits(s, pos, 2, hour) || !expect(s, pos, ":") ||
        !digits(s, pos, 2, minute) || !expect(s, pos, ":") || !digits(s, pos, 2, second)) {
        return std::nullopt;
    }
    std::int64_t ms = 0;
    if (expect(s, pos, ".")) {
        std::size_t n = 0;
        std::int64_t scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            ms += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
            ++n;
        }
        if (n == 0 || n > 9) {
            return std::nullopt;
        }
    }
    int offset_min = 0;
    if (expect(s, pos, "Zz")) {
        offset_min = 0;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int sign = s[pos] == '-' ? -1 : 1;
        ++pos;
        int oh = 0;
        int om = 0;
        if (!digits(s, pos, 2, oh) || !expect(s, pos, ":") || !digits(s, pos, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_min = sign * (oh * 60 + om);
    } else {
        return std::nullopt;  // RFC 3339 requires the offset
    }
    if (pos != s.size() || hour > 23 || minute > 59 || second > 60) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
    const std::int64_t secs =
        std::int64_t{days} * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - std::int64_t{offset_min} * 60;
    return secs * 1000 + ms;
}

}  // namespace vigil::http
