#pragma once
/// Big-endian integers in byte strings (Boost.Endian): the store's and the archive's keys sort
/// by them, and their records hold them.

#include <boost/endian/conversion.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::big_endian {

inline void append_u16(std::string& out, std::uint16_t v) {
    unsigned char b[2];
    boost::endian::endian_store<std::uint16_t, 2, boost::endian::order::big>(b, v);
    out.append(reinterpret_cast<const char*>(b), sizeof b);
}

inline void append_u64(std::string& out, std::uint64_t v) {
    unsigned char b[8];
    boost::endian::endian_store<std::uint64_t, 8, boost::endian::order::big>(b, v);
    out.append(reinterpret_cast<const char*>(b), sizeof b);
}

/// The 2 (8) bytes at the start of `s`, which holds at least that many, as a number.
[[nodiscard]] inline std::uint16_t load_u16(std::string_view s) noexcept {
    return boost::endian::endian_load<std::uint16_t, 2, boost::endian::order::big>(
        reinterpret_cast<const unsigned char*>(s.data()));
}

[[nodiscard]] inline std::uint64_t load_u64(std::string_view s) noexcept {
    return boost::endian::endian_load<std::uint64_t, 8, boost::endian::order::big>(
        reinterpret_cast<const unsigned char*>(s.data()));
}

}  // namespace vigil::big_endian
