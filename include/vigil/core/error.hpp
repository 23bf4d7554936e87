#pragma once
/// Error handling vocabulary shared by every module: expected failures are returned as an
/// error_code or a result, never thrown.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace vigil {

using error_code = boost::system::error_code;

/// Value-or-error return type for expected failures.
template <class T>
using result = boost::system::result<T, error_code>;

}  // namespace vigil
