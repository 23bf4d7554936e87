#include <vigil/core/text.hpp>

#include <algorithm>

namespace vigil {

std::vector<std::string_view> split_commas(std::string_view list) {
    std::vector<std::string_view> out;
    if (list.empty()) {
        return out;
    }
    std::size_t pos = 0;
    for (;;) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        out.push_back(list.substr(pos, comma - pos));
        if (comma == list.size()) {
            return out;
        }
        pos = comma + 1;
    }
}

std::string_view trim_spaces(std::string_view s) noexcept {
    const std::size_t first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace vigil
