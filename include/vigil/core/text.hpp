#pragma once
/// Small text helpers shared by the configuration files, the command line and HTTP headers.

#include <string_view>
#include <vector>

namespace vigil {

/// The items of a comma-separated list, as they are (nothing trimmed; "a,,b" has an empty
/// middle item); none for an empty list.
[[nodiscard]] std::vector<std::string_view> split_commas(std::string_view list);

/// `s` without the spaces and tabs at its ends (HTTP's optional whitespace around list items).
[[nodiscard]] std::string_view trim_spaces(std::string_view s) noexcept;

}  // namespace vigil
