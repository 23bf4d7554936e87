#pragma once
/// JSON strings from arbitrary bytes (client ids, topics, log lines): always valid JSON.

#include <string>
#include <string_view>

namespace vigil {

/// Appends `s` as a JSON string (quoted; control characters, quotes and backslashes escaped;
/// invalid UTF-8 replaced by U+FFFD so the output is always valid JSON).
void append_json_string(std::string& out, std::string_view s);

}  // namespace vigil
