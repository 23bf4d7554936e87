#include <vigil/router/retained.hpp>

#include <vigil/core/sync.hpp>
#include <vigil/core/topic.hpp>

#include <functional>
#include <utility>

namespace vigil::router {

namespace {
std::size_t footprint(const message& m) noexcept { return m.topic().size() + m.payload().size(); }
}  // namespace

retained_store::partition& retained_store::part_for(std::string_view topic) const noexcept {
    return parts_[std::hash<std::string_view>{}(topic) % partitions];
}

bool retained_store::update(const message_ref& m) {
    partition& p = part_for(m->topic());
    const lock_guard lock{p.mu};
    auto it = p.by_topic.find(m->topic());
    if (m->payload().empty()) {
        if (it == p.by_topic.end()) {
            return false;
        }
        p.bytes -= footprint(*it->second.msg);
        p.by_topic.erase(it);
        return true;  // a cleared topic has no mark to hold: whoever takes it sees the clear
    }
    p.bytes += footprint(*m);
    if (it == p.by_topic.end()) {
        p.by_topic.emplace(std::string{m->topic()}, partition::entry{m, true});
        return true;
    }
    p.bytes -= footprint(*it->second.msg);
    it->second.msg = m;
    return !std::exchange(it->second.changed, true);
}

void retained_store::restore(const message_ref& m) {
    partition& p = part_for(m->topic());
    const lock_guard lock{p.mu};
    const auto [it, added] = p.by_topic.try_emplace(std::string{m->topic()}, partition::entry{m, false});
    if (!added) {
        p.bytes -= footprint(*it->second.msg);
        it->second = partition::entry{m, false};
    }
    p.bytes += footprint(*m);
}

std::optional<message_ref> retained_store::take_changed(std::string_view topic) {
    partition& p = part_for(topic);
    const lock_guard lock{p.mu};
    const auto it = p.by_topic.find(topic);
    if (it == p.by_topic.end()) {
        return message_ref{};
    }
    if (!std::exchange(it->second.changed, false)) {
        return std::nullopt;
    }
    return it->second.msg;
}

std::vector<message_ref> retained_store::match(std::string_view filter) const {
    std::vector<message_ref> out;
    const std::size_t wild = filter.find_first_of("+#");
    if (wild == std::string_view::npos) {
        const partition& p = part_for(filter);
        const lock_guard lock{p.mu};
        auto it = p.by_topic.find(filter);
        if (it != p.by_topic.end()) {
            out.push_back(it->second.msg);
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
        const lock_guard lock{p.mu};
        for (auto it = p.by_topic.lower_bound(prefix); it != p.by_topic.end() && it->first.starts_with(prefix); ++it) {
            if (topic::matches(filter, it->first)) {
                out.push_back(it->second.msg);
            }
        }
    }
    return out;
}

retained_store::totals retained_store::usage() const {
    totals u;
    for (const partition& p : parts_) {
        const lock_guard lock{p.mu};
        u.count += p.by_topic.size();
        u.bytes += p.bytes;
    }
    return u;
}

}  // namespace vigil::router
