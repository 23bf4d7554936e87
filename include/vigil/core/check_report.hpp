#pragma once
/// What an offline check (`vigil db check`, `vigil archive check`) found.

#include <string>

namespace vigil {

/// A human report; `ok` is false on any problem.
struct check_report {
    bool ok = false;
    std::string text;
};

}  // namespace vigil
