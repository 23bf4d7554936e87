#include <vigil/http/devices.hpp>

#include <vigil/http/json.hpp>

#include <simdjson.h>

#include <algorithm>
#include <map>

namespace vigil::http {
namespace {

struct device_values {
    std::map<std::string_view, const message*> by_kind;  // views into the messages
    std::int64_t updated = 0;
};

/// "devices/{id}/{kind}" -> {id, kind}; nullopt for any other shape.
std::optional<std::pair<std::string_view, std::string_view>> split(std::string_view topic) {
    constexpr std::string_view prefix = "devices/";
    if (!topic.starts_with(prefix)) {
        return std::nullopt;
    }
    topic.remove_prefix(prefix.size());
    const auto slash = topic.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == topic.size() ||
        topic.find('/', slash + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    return std::make_pair(topic.substr(0, slash), topic.substr(slash + 1));
}

/// The device's online state from its status message.
bool online_from(const message& status) {
    const auto p = status.payload();
    const std::string_view text{reinterpret_cast<const char*>(p.data()), p.size()};
    if (text == "offline" || text == "\"offline\"") {
        return false;
    }
    // One parse: a JSON object with a boolean "online" decides; anything else means online.
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    bool online = true;
    if (!p.empty() && parser.parse(p.data(), p.size(), false).get(doc) == simdjson::SUCCESS &&
        doc["online"].get(online) == simdjson::SUCCESS) {
        return online;
    }
    return true;
}

void append_device(std::string& out, std::string_view id, const device_values& d) {
    out.append("{\"id\":");
    append_json_string(out, id);
    out.append(",\"online\":");
    const auto status = d.by_kind.find("status");
    if (status == d.by_kind.end()) {
        out.append("null");
    } else {
        out.append(online_from(*status->second) ? "true" : "false");
    }
    out.append(",\"updated\":");
    out.append(std::to_string(d.updated));
    out.append(",\"values\":{");
    bool first = true;
    for (const auto& [kind, m] : d.by_kind) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_json_string(out, kind);
        out.append(":{\"topic\":");
        append_json_string(out, m->topic());
        out.append(",\"payload\":");
        append_payload(out, *m);
        out.append(",\"time\":");
        out.append(std::to_string(m->time_ms()));
        out.push_back('}');
    }
    out.append("}}");
}

std::map<std::string_view, device_values> group(const std::vector<message_ref>& values) {
    std::map<std::string_view, device_values> devices;
    for (const auto& m : values) {
        if (const auto parts = split(m->topic())) {
            auto& d = devices[parts->first];
            d.by_kind[parts->second] = m.get();
            d.updated = std::max(d.updated, m->time_ms());
        }
    }
    return devices;
}

}  // namespace

std::string devices_json(const std::vector<message_ref>& last_values) {
    std::string out = "{\"devices\":[";
    bool first = true;
    for (const auto& [id, d] : group(last_values)) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_device(out, id, d);
    }
    out.append("]}");
    return out;
}

std::optional<std::string> device_json(const std::vector<message_ref>& last_values, std::string_view id) {
    const auto devices = group(last_values);
    const auto it = devices.find(id);
    if (it == devices.end()) {
        return std::nullopt;
    }
    std::string out;
    append_device(out, it->first, it->second);
    return out;
}

std::string error_json(unsigned status, std::string_view message) {
    std::string out = "{\"error\":{\"status\":" + std::to_string(status) + ",\"message\":";
    append_json_string(out, message);
    out.append("}}");
    return out;
}

}  // namespace vigil::http
