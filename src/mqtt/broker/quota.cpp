#include <vigil/core/sync.hpp>

#include "quota.hpp"

#include <fmt/format.h>

namespace vigil::mqtt {

namespace {
std::uint64_t size_of(const message& m) { return m.topic().size() + m.payload().size(); }
}  // namespace

std::string quota_owner(std::string_view identity, std::string_view client_id) {
    return identity.empty() ? fmt::format("anonymous client '{}'", client_id) : fmt::format("identity '{}'", identity);
}

void retained_quota::forget(const entry& e) {
    total_.count -= 1;
    total_.bytes -= e.bytes;
    if (e.owned) {
        const auto it = by_owner_.find(e.owner);
        if (it != by_owner_.end()) {
            it->second.count -= 1;
            it->second.bytes -= e.bytes;
            if (it->second.count == 0) {
                by_owner_.erase(it);
            }
        }
    }
}

retained_quota::verdict retained_quota::update(const message& m, const std::string* owner) {
    const lock_guard lock{mu_};
    const auto old = by_topic_.find(m.topic());
    if (m.payload().empty()) {
        if (old != by_topic_.end()) {
            forget(old->second);
            by_topic_.erase(old);
        }
        return verdict::ok;
    }
    const std::uint64_t bytes = size_of(m);
    // What the totals and the owner's usage would be without the message being replaced.
    usage all = total_;
    usage mine;
    if (owner != nullptr) {
        if (const auto it = by_owner_.find(*owner); it != by_owner_.end()) {
            mine = it->second;
        }
    }
    if (old != by_topic_.end()) {
        all.count -= 1;
        all.bytes -= old->second.bytes;
        if (owner != nullptr && old->second.owned && old->second.owner == *owner) {
            mine.count -= 1;
            mine.bytes -= old->second.bytes;
        }
    }
    if (all.count + 1 > lim_.max_retained || all.bytes + bytes > lim_.max_retained_bytes) {
        return verdict::over_total;
    }
    if (owner != nullptr && (mine.count + 1 > lim_.max_retained_per_identity ||
                             mine.bytes + bytes > lim_.max_retained_bytes_per_identity)) {
        return verdict::over_identity;
    }
    if (old != by_topic_.end()) {
        forget(old->second);
        by_topic_.erase(old);
    }
    entry e{owner != nullptr ? *owner : std::string{}, owner != nullptr, bytes};
    total_.count += 1;
    total_.bytes += bytes;
    if (owner != nullptr) {
        auto& u = by_owner_[*owner];
        u.count += 1;
        u.bytes += bytes;
    }
    by_topic_.insert_or_assign(std::string{m.topic()}, std::move(e));
    return verdict::ok;
}

void retained_quota::restore(const message& m) {
    const lock_guard lock{mu_};
    const std::uint64_t bytes = size_of(m);
    total_.count += 1;
    total_.bytes += bytes;
    by_topic_.insert_or_assign(std::string{m.topic()}, entry{std::string{}, false, bytes});
}

bool session_owners::try_add(const std::string& owner, std::size_t max) {
    if (owner.empty()) {
        return true;
    }
    const lock_guard lock{mu_};
    auto& n = counts_[owner];
    if (max > 0 && n >= max) {
        if (n == 0) {
            counts_.erase(owner);
        }
        return false;
    }
    ++n;
    return true;
}

void session_owners::add(const std::string& owner) {
    if (owner.empty()) {
        return;
    }
    const lock_guard lock{mu_};
    ++counts_[owner];
}

void session_owners::remove(const std::string& owner) {
    if (owner.empty()) {
        return;
    }
    const lock_guard lock{mu_};
    const auto it = counts_.find(owner);
    if (it != counts_.end() && --it->second == 0) {
        counts_.erase(it);
    }
}

}  // namespace vigil::mqtt
