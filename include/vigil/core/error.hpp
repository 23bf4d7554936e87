#pragma once
/// Error handling vocabulary shared by every module (STYLE R2, R3).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string_view>

namespace vigil {

using error_code = boost::system::error_code;

/// Value-or-error return type for expected failures.
template <class T>
using result = boost::system::result<T, error_code>;

/// Spells out, greppably, that an error is deliberately dropped; logs it at debug level.
void ignore_error(const error_code& ec, std::string_view why);

}  // namespace vigil
