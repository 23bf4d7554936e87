#include "layout.hpp"

#include <vigil/core/big_endian.hpp>

#include <fmt/format.h>

#include <chrono>

namespace vigil::archive::layout {
namespace {

using big_endian::append_u16;
using big_endian::append_u64;
using big_endian::load_u16;
using big_endian::load_u64;

// Times are stored offset by 2^63 so that negative times (before 1970) sort first.
constexpr std::uint64_t time_bias = std::uint64_t{1} << 63;

}  // namespace

std::int64_t day_of(std::int64_t time_ms) noexcept {
    return time_ms >= 0 ? time_ms / day_ms : -((-time_ms + day_ms - 1) / day_ms);
}

std::string partition_name(std::int64_t day) {
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
    return fmt::format("d{:04}{:02}{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()));
}

std::optional<std::int64_t> partition_day(std::string_view name) {
    if (name.size() != 9 || name[0] != 'd') {
        return std::nullopt;
    }
    int digits[8];
    for (std::size_t i = 0; i < 8; ++i) {
        const char c = name[i + 1];
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        digits[i] = c - '0';
    }
    const int y = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
    const unsigned m = static_cast<unsigned>(digits[4] * 10 + digits[5]);
    const unsigned d = static_cast<unsigned>(digits[6] * 10 + digits[7]);
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

std::string key(std::string_view topic, std::int64_t time_ms, std::uint64_t seq) {
    std::string k = key_at(topic, time_ms);
    append_u64(k, seq);
    return k;
}

std::string key_at(std::string_view topic, std::int64_t time_ms) {
    std::string k;
    k.reserve(topic.size() + 17);
    k.append(topic);
    k.push_back('\0');
    append_u64(k, static_cast<std::uint64_t>(time_ms) ^ time_bias);
    return k;
}

std::optional<parsed_key> parse_key(std::string_view k) {
    const auto nul = k.find('\0');
    if (nul == 0 || nul == std::string_view::npos || k.size() != nul + 17) {
        return std::nullopt;
    }
    return parsed_key{k.substr(0, nul), static_cast<std::int64_t>(load_u64(k.substr(nul + 1)) ^ time_bias),
                      load_u64(k.substr(nul + 9))};
}

std::string catalogue_key(std::string_view topic) {
    std::string k;
    k.reserve(topic.size() + 1);
    k.push_back('\0');
    k.append(topic);
    return k;
}

std::optional<std::string_view> catalogue_topic(std::string_view k) {
    if (k.size() < 2 || k[0] != '\0') {
        return std::nullopt;
    }
    return k.substr(1);
}

std::string value(const message& m, std::string_view client_id) {
    const auto payload = m.payload();
    std::string v;
    const std::size_t n = std::min<std::size_t>(client_id.size(), 0xFFFF);
    v.reserve(3 + n + payload.size());
    v.push_back(static_cast<char>(static_cast<unsigned>(m.published_qos()) | (m.retain() ? 4u : 0u)));
    append_u16(v, static_cast<std::uint16_t>(n));
    v.append(client_id.substr(0, n));
    v.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    return v;
}

bool parse_value(std::string_view v, record& r) {
    if (v.size() < 3) {
        return false;
    }
    const auto flags = static_cast<unsigned char>(v[0]);
    if ((flags & 3u) > 2 || (flags & ~7u) != 0) {
        return false;
    }
    const std::size_t n = load_u16(v.substr(1));
    if (v.size() < 3 + n) {
        return false;
    }
    r.q = static_cast<qos>(flags & 3u);
    r.retain = (flags & 4u) != 0;
    r.client_id.assign(v.substr(3, n));
    r.payload.assign(v.substr(3 + n));
    return true;
}

}  // namespace vigil::archive::layout

namespace vigil::archive {

// A cursor: the hex of the time and the sequence (16 digits each), then of the topic.
std::string encode_cursor(const position& p) {
    std::string out = fmt::format("{:016x}{:016x}", static_cast<std::uint64_t>(p.time_ms), p.seq);
    for (const char c : p.topic) {
        out += fmt::format("{:02x}", static_cast<unsigned char>(c));
    }
    return out;
}

std::optional<position> decode_cursor(std::string_view text) {
    if (text.size() < 32 || text.size() % 2 != 0 || text.size() > 32 + 2 * 65535) {
        return std::nullopt;
    }
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    };
    std::string bytes;
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = nibble(text[i]);
        const int lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        bytes.push_back(static_cast<char>(hi * 16 + lo));
    }
    position p;
    p.time_ms = static_cast<std::int64_t>(big_endian::load_u64(bytes));
    p.seq = big_endian::load_u64(std::string_view{bytes}.substr(8));
    p.topic = bytes.substr(16);
    if (p.topic.empty() || p.topic.find('\0') != std::string::npos) {
        return std::nullopt;
    }
    return p;
}

}  // namespace vigil::archive

namespace vigil::archive {

encoded encode(const message& m, std::string_view client_id) {
    return {layout::key(m.topic(), m.time_ms(), m.origin().seq), layout::value(m, client_id)};
}

}  // namespace vigil::archive
