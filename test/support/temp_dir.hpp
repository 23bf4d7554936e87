#pragma once
// A fresh directory under the system's temporary directory, removed with everything in it.

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace vigil::test {

struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(std::string_view what) {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() /
               ("vigil-" + std::string{what} + "-" + std::to_string(rd()) + std::to_string(rd()));
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace vigil::test
