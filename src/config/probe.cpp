// `[probe]`: the end-to-end probe's schedule, topic and credentials.
#include "context.hpp"

#include <vigil/core/topic.hpp>

namespace vigil::config {

void parse_probe(const context& cx, const toml::table& t, probe_settings& p) {
    cx.only(t, {"interval", "max_latency", "topic", "client_id", "username", "password", "token", "ca", "cert", "key"},
            "probe.");
    if (const auto* v = t.get("interval")) {
        p.interval = cx.interval_or_off(*v, "probe.interval");
    }
    if (const auto* v = t.get("max_latency")) {
        p.max_latency = cx.duration(*v, "probe.max_latency");
        if (p.max_latency > std::chrono::seconds{60}) {
            cx.fail(*v, "'probe.max_latency' must be at most 60s");
        }
    }
    if (const auto* v = t.get("topic")) {
        p.topic = cx.string(*v, "probe.topic");
        if (!topic::valid_name(p.topic) || p.topic.starts_with('$') ||
            p.topic.find_first_of("\"\\") != std::string::npos) {
            cx.fail(*v, fmt::format(
                            "'probe.topic': \"{}\" is not a topic name outside $ (no wildcards, quotes or backslashes)",
                            p.topic));
        }
    }
    if (const auto* v = t.get("client_id")) {
        p.client_id = cx.string(*v, "probe.client_id");
        if (p.client_id.empty() || p.client_id.size() > 256) {
            cx.fail(*v, "'probe.client_id' must be 1 to 256 bytes");
        }
    }
    for (auto [key, field] :
         {std::pair{"username", &p.username}, std::pair{"password", &p.password}, std::pair{"token", &p.token},
          std::pair{"ca", &p.ca}, std::pair{"cert", &p.cert}, std::pair{"key", &p.key}}) {
        if (const auto* v = t.get(key)) {
            *field = cx.string(*v, fmt::format("probe.{}", key));
        }
    }
    if (p.cert.empty() != p.key.empty()) {
        cx.fail(*t.get(p.cert.empty() ? "key" : "cert"), "'probe.cert' and 'probe.key' go together");
    }
}

}  // namespace vigil::config
