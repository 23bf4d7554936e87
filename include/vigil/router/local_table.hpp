#pragma once
/// The subscribers of one shard, by filter.

#include <vigil/core/message.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::router {

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// Subscribers of one shard keyed by filter. `Sub` is the broker's subscriber handle
/// (comparable, cheap to copy). Tells its caller when a filter gains its first or loses
/// its last subscriber here, which is when the global index must change.
/// Thread safety: shard-affine.
template <class Sub>
class local_table {
public:
    struct entry {
        Sub sub;
        qos q;
        bool checked;  ///< every message delivered through it must pass the subscriber's read check
    };

    /// Adds or replaces `sub`'s subscription. Returns true if `filter` is new on this shard.
    bool add(std::string_view filter, Sub sub, qos q, bool checked = false) {
        auto it = subs_.find(filter);
        if (it == subs_.end()) {
            subs_.emplace(std::string{filter}, std::vector<entry>{{sub, q, checked}});
            return true;
        }
        auto& v = it->second;
        auto e = std::find_if(v.begin(), v.end(), [&sub](const entry& x) { return x.sub == sub; });
        if (e != v.end()) {
            e->q = q;
            e->checked = checked;
        } else {
            v.push_back({sub, q, checked});
        }
        return false;
    }

    /// Changes whether `sub`'s subscription to `filter` is checked (the rules were reloaded).
    void set_checked(std::string_view filter, const Sub& sub, bool checked) {
        auto it = subs_.find(filter);
        if (it == subs_.end()) {
            return;
        }
        for (auto& e : it->second) {
            if (e.sub == sub) {
                e.checked = checked;
            }
        }
    }

    /// Removes `sub` from `filter`. Returns true if `filter` has no subscriber left here.
    bool remove(std::string_view filter, const Sub& sub) {
        auto it = subs_.find(filter);
        if (it == subs_.end()) {
            return false;
        }
        auto& v = it->second;
        std::erase_if(v, [&sub](const entry& x) { return x.sub == sub; });
        if (v.empty()) {
            subs_.erase(it);
            return true;
        }
        return false;
    }

    /// Subscribers of exactly `filter`, or nullptr.
    [[nodiscard]] const std::vector<entry>* find(std::string_view filter) const {
        auto it = subs_.find(filter);
        return it == subs_.end() ? nullptr : &it->second;
    }

    [[nodiscard]] std::size_t filter_count() const noexcept { return subs_.size(); }

private:
    std::unordered_map<std::string, std::vector<entry>, string_hash, std::equal_to<>> subs_;
};

}  // namespace vigil::router
