#pragma once
// The console's files, compiled into the binary (cmake/embed_files.cmake generates their
// definitions from src/console/www and the npm packages pinned in src/console).

#include <array>
#include <span>
#include <string_view>

namespace vigil::console {

struct file {
    std::string_view url;  ///< "/" or "/console/NAME"
    std::string_view content_type;
    std::string_view body;
    std::string_view etag;  ///< quoted, from the contents' SHA-256
};

/// Every embedded file (generated).
[[nodiscard]] std::span<const file> files() noexcept;

}  // namespace vigil::console
