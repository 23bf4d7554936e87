#include <vigil/router/retained.hpp>

#include <vigil/core/topic.hpp>

#include <functional>

namespace vigil::router {

retained_store::partition& retained_store::part_for(std::string_view topic) const noexcept {
    return parts_[std::hash<std::string_view>{}(topic) % partitions];
}

void retained_store::update(const message_ref& m) {
    partition& p = part_for(m->topic());
    const std::lock_guard lock{p.mu};
    auto it = p.by_topic.find(m->topic());
    if (it == p.by_topic.end()) {
        if (!m->payload().empty()) {
            p.by_topic.emplace(m->topic(), m);
        }
        return;
    }
    if (m->payload().empty()) {
        p.by_topic.erase(it);
        return;
    }
    // The key views the old message's topic: re-key the node (no allocation) to the new one.
    auto node = p.by_topic.extract(it);
    node.key() = m->topic();
    node.mapped() = m;
    p.by_topic.insert(std::move(node));
}

std::vector<message_ref> retained_store::match(std::string_view filter) const {
    std::vector<message_ref> out;
    const std::size_t wild = filter.find_first_of("+#");
    if (wild == std::string_view::npos) {
        const partition& p = part_for(filter);
        const std::lock_guard lock{p.mu};
        auto it = p.by_topic.find(filter);
        if (it != p.by_topic.end()) {
            out.push_back(it->second);
        }
        return out;
    }
    // Only topics starting with the literal prefix before the first wildcard can match.
    // "a/#" also matches "a", which is shorter than the prefix "a/".
    std::string_view prefix = filter.substr(0, wild);
    if (!prefix.empty() && prefix.back() == '/' && filter.substr(wild) == "#") {
        prefix.remove_suffix(1);
    }
    for (const partition& p : parts_) {
        const std::lock_guard lock{p.mu};
        for (auto it = p.by_topic.lower_bound(prefix);
             it != p.by_topic.end() && it->first.starts_with(prefix);
             ++it) {
            if (topic::matches(filter, it->first)) {
                out.push_back(it->second);
            }
        }
    }
    return out;
}

std::size_t retained_store::size() const {
    std::size_t n = 0;
    for (const partition& p : parts_) {
        const std::lock_guard lock{p.mu};
        n += p.by_topic.size();
    }
    return n;
}

}  // namespace vigil::router
