#pragma once
/// UTF-8 decoding shared by topic validation (MQTT 3.1.1 §1.5.3) and JSON text building.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vigil {

/// Length (2 to 4) of the well-formed UTF-8 sequence that `s` starts with, whose first byte is
/// not ASCII; 0 when it is ill-formed: a bad lead or continuation byte, cut short, an overlong
/// form, a surrogate, or past U+10FFFF.
[[nodiscard]] constexpr std::size_t utf8_sequence(std::string_view s) noexcept {
    const auto c = static_cast<unsigned char>(s[0]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (s.size() < n) {
        return 0;
    }
    for (std::size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[k]);
        if ((cc & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

}  // namespace vigil
