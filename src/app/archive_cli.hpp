#pragma once
// `vigil archive export`: archived records to standard output, offline.

#include <string_view>
#include <vector>

namespace vigil::app {

/// Runs `vigil archive export ARGS...` (the arguments after "export"); returns the exit status.
int archive_export_main(const std::vector<std::string_view>& args);

}  // namespace vigil::app
