#pragma once
/// Big-endian integers in byte strings (Boost.Endian): the store's and the archive's keys sort
/// by them, and their records hold them.

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::big_endian {

/// Appends the `Bytes` low bytes of `v`, most significant first.
template <std::size_t Bytes, class T>
void append(std::string& out, T v) {
    unsigned char b[Bytes];
    boost::endian::endian_store<T, Bytes, boost::endian::order::big>(b, v);
    out.append(reinterpret_cast<const char*>(b), Bytes);
}

/// The `Bytes` bytes at the start of `s` (which holds at least that many) as a number.
template <std::size_t Bytes, class T>
[[nodiscard]] T load(std::string_view s) noexcept {
    return boost::endian::endian_load<T, Bytes, boost::endian::order::big>(
        reinterpret_cast<const unsigned char*>(s.data()));
}

inline void append_u16(std::string& out, std::uint16_t v) { append<2>(out, v); }
inline void append_u64(std::string& out, std::uint64_t v) { append<8>(out, v); }
[[nodiscard]] inline std::uint16_t load_u16(std::string_view s) noexcept { return load<2, std::uint16_t>(s); }
[[nodiscard]] inline std::uint64_t load_u64(std::string_view s) noexcept { return load<8, std::uint64_t>(s); }

}  // namespace vigil::big_endian
