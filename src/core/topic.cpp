#include <vigil/core/topic.hpp>
#include <vigil/core/utf8.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace vigil::topic {

namespace {
constexpr std::uint64_t high_bits = 0x8080808080808080ull;
constexpr std::uint64_t low_bits = 0x0101010101010101ull;

/// True when none of the 8 bytes in `w` is zero or has its high bit set (plain ASCII).
constexpr bool ascii_without_nul(std::uint64_t w) noexcept { return ((w | ((w - low_bits) & ~w)) & high_bits) == 0; }

/// True when all 8 bytes in `w` are printable ASCII: none has its high bit set, none is below
/// 0x20, none is 0x7F (DEL).
constexpr bool printable_ascii(std::uint64_t w) noexcept {
    const std::uint64_t below_space = (w - 0x2020202020202020ull) & ~w;
    const std::uint64_t del = w ^ 0x7F7F7F7F7F7F7F7Full;
    const std::uint64_t is_del = (del - low_bits) & ~del;
    return ((w | below_space | is_del) & high_bits) == 0;
}
}  // namespace

bool valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        // Topics are almost always ASCII: step over 8 such bytes at a time.
        if (end - p >= 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, p, sizeof w);
            if (ascii_without_nul(w)) {
                p += 8;
                continue;
            }
        }
        const unsigned char c = *p;
        if (c == 0) {
            return false;
        }
        if (c < 0x80) {
            ++p;
            continue;
        }
        const std::size_t n = utf8_sequence({reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p)});
        if (n == 0) {
            return false;
        }
        p += n;
    }
    return true;
}

bool has_control_character(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        if (end - p >= 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, p, sizeof w);
            if (printable_ascii(w)) {
                p += 8;
                continue;
            }
        }
        const unsigned char c = *p;
        if (c < 0x20 || c == 0x7F || (c == 0xC2 && end - p >= 2 && p[1] >= 0x80 && p[1] <= 0x9F)) {
            return true;
        }
        ++p;
    }
    return false;
}

bool valid_name(std::string_view name) noexcept {
    // One pass; find_first_of("+#") calls memchr once per character.
    return !name.empty() && name.size() <= max_length &&
           std::none_of(name.begin(), name.end(), [](char c) { return c == '+' || c == '#'; });
}

bool valid_filter(std::string_view filter) noexcept {
    if (filter.empty() || filter.size() > max_length) {
        return false;
    }
    bool ok = true;
    for_each_level(filter, [&ok](std::string_view level, bool last) {
        if (level.find_first_of("+#") == std::string_view::npos) {
            return;
        }
        if (level == "+") {
            return;
        }
        if (level == "#" && last) {
            return;
        }
        ok = false;
    });
    return ok;
}

bool matches(std::string_view filter, std::string_view name) noexcept {
    if (!name.empty() && name.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    std::size_t f = 0;
    std::size_t n = 0;
    for (;;) {
        const std::size_t f_end = std::min(filter.find('/', f), filter.size());
        const std::string_view flevel = filter.substr(f, f_end - f);
        if (flevel == "#") {
            return true;
        }
        const std::size_t n_end = std::min(name.find('/', n), name.size());
        const std::string_view nlevel = name.substr(n, n_end - n);
        if (flevel != "+" && flevel != nlevel) {
            return false;
        }
        const bool f_done = f_end == filter.size();
        const bool n_done = n_end == name.size();
        if (f_done || n_done) {
            if (f_done && n_done) {
                return true;
            }
            // "a/#" matches "a": the filter's only remaining level is '#'.
            return n_done && filter.substr(f_end) == "/#";
        }
        f = f_end + 1;
        n = n_end + 1;
    }
}

bool covers(std::string_view outer, std::string_view inner) noexcept {
    std::size_t o = 0;
    std::size_t i = 0;
    for (;;) {
        const std::size_t oe = std::min(outer.find('/', o), outer.size());
        const std::size_t ie = std::min(inner.find('/', i), inner.size());
        const std::string_view ol = outer.substr(o, oe - o);
        const std::string_view il = inner.substr(i, ie - i);
        if (ol == "#") {
            // '#' covers the rest, but a first-level wildcard never reaches '$' topics.
            return !(o == 0 && il.starts_with('$'));
        }
        if (il == "#") {
            return false;  // only '#' covers '#'
        }
        if (ol == "+") {
            if (o == 0 && il.starts_with('$')) {
                return false;
            }
        } else if (ol != il) {
            return false;  // a literal covers only itself (not '+')
        }
        const bool outer_done = oe == outer.size();
        const bool inner_done = ie == inner.size();
        if (outer_done || inner_done) {
            // "a/#" also covers "a"; otherwise both must end together.
            return outer_done == inner_done || (inner_done && outer.substr(oe) == "/#");
        }
        o = oe + 1;
        i = ie + 1;
    }
}

std::optional<std::string> intersect(std::string_view a, std::string_view b) {
    std::string out;
    std::size_t i = 0;
    std::size_t j = 0;
    for (bool first = true;; first = false) {
        const std::size_t ae = std::min(a.find('/', i), a.size());
        const std::size_t be = std::min(b.find('/', j), b.size());
        const std::string_view al = a.substr(i, ae - i);
        const std::string_view bl = b.substr(j, be - j);
        // A first-level wildcard never matches a '$' topic [MQTT-4.7.2-1].
        if (first &&
            ((al.starts_with('$') && (bl == "+" || bl == "#")) || (bl.starts_with('$') && (al == "+" || al == "#")))) {
            return std::nullopt;
        }
        if (al == "#" || bl == "#") {
            // '#' matches whatever the other filter matches from this level on.
            out += al == "#" ? b.substr(j) : a.substr(i);
            return out;
        }
        if (al == "+") {
            out += bl;
        } else if (bl == "+" || al == bl) {
            out += al;
        } else {
            return std::nullopt;
        }
        const bool a_done = ae == a.size();
        const bool b_done = be == b.size();
        if (a_done && b_done) {
            return out;
        }
        if (a_done || b_done) {
            // "x/#" also matches "x": the longer filter may only have '#' left.
            const std::string_view rest = a_done ? b.substr(be) : a.substr(ae);
            if (rest == "/#") {
                return out;
            }
            return std::nullopt;
        }
        out += '/';
        i = ae + 1;
        j = be + 1;
    }
}

}  // namespace vigil::topic
