#pragma once
// The `vigil passwd` and `vigil token` subcommands.

#include <string_view>
#include <vector>

namespace vigil::app {

/// Runs `vigil passwd ARGS...`; returns the process exit status.
int passwd_main(const std::vector<std::string_view>& args);

/// Runs `vigil token ARGS...`; returns the process exit status.
int token_main(const std::vector<std::string_view>& args);

}  // namespace vigil::app
