#include <vigil/http/json.hpp>

#include <simdjson.h>

namespace vigil::http {

bool is_json(std::span<const std::uint8_t> payload) {
    if (payload.empty()) {
        return false;
    }
    // The padding after every message payload lets simdjson parse in place, without a copy.
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    return parser.parse(payload.data(), payload.size(), false).get(doc) == simdjson::SUCCESS;
}

void append_payload(std::string& out, const message& m) {
    const auto p = m.payload();
    if (is_json(p)) {
        out.append(reinterpret_cast<const char*>(p.data()), p.size());
    } else {
        append_json_string(out, {reinterpret_cast<const char*>(p.data()), p.size()});
    }
}

}  // namespace vigil::http
