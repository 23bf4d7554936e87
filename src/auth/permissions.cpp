#include <vigil/auth/permissions.hpp>

#include <vigil/core/topic.hpp>

#include <algorithm>

namespace vigil::auth {

permissions::permissions(std::vector<rule> rules, bool deny_all) : deny_all_(deny_all) {
    for (auto& r : rules) {
        if (!r.read && !r.write) {
            denies_.push_back(std::move(r.filter));
        } else {
            grants_.push_back(std::move(r));
        }
    }
}

bool permissions::may_write(std::string_view topic) const {
    if (deny_all_ || topic.starts_with('$')) {
        return false;  // $SYS and other broker topics are never written by clients
    }
    auto denied = [topic](const std::string& f) { return topic::matches(f, topic); };
    auto granted = [topic](const rule& r) { return r.write && topic::matches(r.filter, topic); };
    return std::none_of(denies_.begin(), denies_.end(), denied) && std::any_of(grants_.begin(), grants_.end(), granted);
}

bool permissions::may_read(std::string_view topic) const {
    if (deny_all_) {
        return false;
    }
    auto denied = [topic](const std::string& f) { return topic::matches(f, topic); };
    auto granted = [topic](const rule& r) { return r.read && topic::matches(r.filter, topic); };
    return std::none_of(denies_.begin(), denies_.end(), denied) && std::any_of(grants_.begin(), grants_.end(), granted);
}

read_scope permissions::scope_of(std::string_view filter) const {
    if (deny_all_) {
        return read_scope::none;
    }
    bool touches_deny = false;
    for (const auto& d : denies_) {
        if (topic::covers(d, filter)) {
            return read_scope::none;
        }
        touches_deny = touches_deny || topic::intersect(d, filter).has_value();
    }
    bool some = false;
    for (const auto& g : grants_) {
        if (!g.read) {
            continue;
        }
        if (!touches_deny && topic::covers(g.filter, filter)) {
            return read_scope::all;
        }
        if (some) {
            continue;
        }
        // Readable through this grant: its intersection with the filter, unless a single
        // deny rule takes all of it.
        if (const auto both = topic::intersect(g.filter, filter)) {
            some = std::none_of(denies_.begin(), denies_.end(),
                                [&both](const std::string& d) { return topic::covers(d, *both); });
        }
    }
    return some ? read_scope::some : read_scope::none;
}

}  // namespace vigil::auth
