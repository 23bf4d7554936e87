// `[archive]`: what history is kept, how long, and how it is written.
#include "context.hpp"

#include <vigil/core/topic.hpp>

namespace vigil::config {

void parse_archive(const context& cx, const toml::table& t, archive_settings& a) {
    cx.only(t,
            {"topics", "retention", "max_bytes", "flush_interval", "max_pending_bytes", "min_free_disk", "lat_field",
             "lon_field"},
            "archive.");
    if (const auto* topics = t.get("topics")) {
        a.topics = cx.strings(*topics, "archive.topics", "topic filters");
        for (std::size_t i = 0; i < a.topics.size(); ++i) {
            if (!topic::valid_filter(a.topics[i]) || a.topics[i].starts_with('$')) {
                cx.fail(*topics->as_array()->get(i),
                        fmt::format("'archive.topics': \"{}\" is not a valid topic filter outside $", a.topics[i]));
            }
        }
    }
    if (const auto* v = t.get("retention")) {
        const auto* s = v->as_string();
        a.retention = s != nullptr && s->get() == "forever" ? std::chrono::milliseconds{0}
                                                            : cx.duration(*v, "archive.retention (or \"forever\")");
    }
    if (const auto* v = t.get("flush_interval")) {
        a.flush_interval = cx.duration(*v, "archive.flush_interval");
    }
    if (const auto* v = t.get("max_bytes")) {
        a.max_bytes = cx.size(*v, "archive.max_bytes", 0, std::uint64_t{1} << 50);
    }
    for (auto [key, field] : {std::pair{"lat_field", &a.lat_field}, std::pair{"lon_field", &a.lon_field}}) {
        if (const auto* v = t.get(key)) {
            *field = cx.string(*v, fmt::format("archive.{}", key));
            if (field->empty()) {
                cx.fail(*v, fmt::format("'archive.{}' must name a JSON field", key));
            }
        }
    }
    if (const auto* v = t.get("max_pending_bytes")) {
        a.max_pending_bytes = cx.size(*v, "archive.max_pending_bytes", 1u << 20, std::uint64_t{1} << 36);
    }
    if (const auto* v = t.get("min_free_disk")) {
        a.min_free_disk = cx.size(*v, "archive.min_free_disk", 0, std::uint64_t{1} << 50);
    }
}

}  // namespace vigil::config
