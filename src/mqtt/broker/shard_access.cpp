// What a shard's clients may do: their rights under the ACL (re-checked on reload), the
// revocation of credentials, retained messages within their quotas, and failed-login delays.
#include "shard.hpp"

#include "connection.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/store/records.hpp>

#include <algorithm>

namespace vigil::mqtt {

namespace {
/// Past this many topics a client's read cache starts again (a dashboard-wide subscription
/// over a large fleet must not grow it without bound).
constexpr std::size_t max_read_cache = 4096;
}  // namespace

bool client::may_read(std::string_view topic) {
    if (!perms) {
        return true;
    }
    if (const auto it = read_cache.find(topic); it != read_cache.end()) {
        return it->second;
    }
    if (read_cache.size() >= max_read_cache) {
        read_cache.clear();
    }
    const bool ok = perms->may_read(topic);
    read_cache.emplace(std::string{topic}, ok);
    return ok;
}

bool client::may_write(std::string_view topic) const {
    return perms ? perms->may_write(topic) : !topic.starts_with('$');
}

shard::shard(broker_core& core, unsigned id, asio::io_context& ioc)
    : core_(core), id_(id), ioc_(ioc), snapshot_(core.index) {
    counters_.open_by_listener.resize(core.settings.listeners.size());
}

shard::~shard() = default;

std::shared_ptr<const auth::permissions> shard::permissions_for(std::string_view identity,
                                                                std::string_view client_id) const {
    if (!acl_) {
        return nullptr;
    }
    return std::make_shared<const auth::permissions>(acl_->for_client(identity, client_id));
}

std::size_t shard::set_permissions(client& c, std::shared_ptr<const auth::permissions> perms) {
    c.perms = std::move(perms);
    c.read_cache.clear();
    for (const auto& [f, q] : c.sess.subscriptions()) {
        table_.set_checked(f, &c, c.perms && c.perms->scope_of(f) != auth::read_scope::all);
    }
    scratch_.clear();
    const std::size_t dropped = c.sess.drop_unless([&c](const message& m) { return c.may_read(m.topic()); }, scratch_);
    carry_out(c, scratch_);
    return dropped;
}

void shard::set_acl(std::shared_ptr<const auth::acl> a) {
    acl_ = std::move(a);
    std::size_t restricted = 0;
    std::size_t dropped = 0;
    for (auto& [id, c] : clients_) {
        if (c->sink != nullptr) {
            continue;  // a dashboard's rights are its API token's
        }
        auto perms = c->owner_known
                         ? permissions_for(c->owner, id)
                         : std::make_shared<const auth::permissions>(std::vector<auth::permissions::rule>{}, true);
        const std::size_t n = set_permissions(*c, std::move(perms));
        dropped += n;
        std::size_t limited = 0;
        for (const auto& [f, q] : c->sess.subscriptions()) {
            limited += c->perms && c->perms->scope_of(f) != auth::read_scope::all ? 1u : 0u;
        }
        restricted += limited;
        if (n > 0 || limited > 0) {
            log::info(
                "shard {}: client '{}' (identity '{}'): {} of {} subscriptions limited by the ACL, {} queued messages "
                "no longer readable dropped",
                id_, id, c->owner, limited, c->sess.subscriptions().size(), n);
        }
    }
    if (!clients_.empty()) {
        log::info(
            "shard {}: {} clients re-checked against the ACL: {} subscriptions limited, {} queued messages dropped",
            id_, clients_.size(), restricted, dropped);
    }
}

void shard::retain(const message_ref& m, const std::string* publisher) {
    const bool clears = m->payload().empty();
    if (!clears && core_.db->disk_low()) {
        ++counters_.retained_refused;
        VIGIL_LOG_LIMITED(warn,
                          "retained message on '{}' not stored: data_dir's disk has less than min_free_disk free "
                          "(delivered live only)",
                          m->topic());
        return;
    }
    const auto verdict = core_.retained_quotas->update(*m, publisher);
    if (verdict != retained_quota::verdict::ok) {
        ++counters_.retained_refused;
        const auto& lim = core_.settings.limits;
        if (verdict == retained_quota::verdict::over_total) {
            VIGIL_LOG_LIMITED(warn,
                              "retained message on '{}' not stored: over max_retained ({}) or max_retained_bytes ({}) "
                              "(delivered live only)",
                              m->topic(), lim.max_retained, lim.max_retained_bytes);
        } else {
            VIGIL_LOG_LIMITED(warn,
                              "retained message on '{}' from {} not stored: over max_retained_per_identity ({}) or "
                              "max_retained_bytes_per_identity ({}) (delivered live only)",
                              m->topic(), *publisher, lim.max_retained_per_identity,
                              lim.max_retained_bytes_per_identity);
        }
        return;
    }
    core_.retained.update(m);
    if (clears) {
        batch().erase(store::family::retained, std::string{m->topic()});
    } else {
        batch().put(store::family::retained, std::string{m->topic()}, store::encode_message(*m));
    }
}

bool shard::erase_retained(const std::string& topic) {
    const auto held = core_.retained.match(topic);  // a topic name: its own message, if any
    if (held.empty()) {
        return false;
    }
    retain(message::make(topic, std::span<const std::uint8_t>{}, held.front()->published_qos(), true), nullptr);
    return true;
}

void shard::revoke(const std::unordered_set<std::string>& users,
                   const std::vector<std::shared_ptr<const net::tls_context>>& fresh) {
    const std::vector<connection*> all(live_.begin(), live_.end());
    std::size_t closed = 0;
    for (connection* c : all) {
        closed += c->recheck_credentials(users, fresh) ? 0u : 1u;
    }
    if (closed > 0) {
        log::info("shard {}: reload: {} connections closed (credentials revoked)", id_, closed);
    }
}

namespace {
constexpr auto forget_failures_after = std::chrono::minutes{10};
}  // namespace

std::chrono::milliseconds login_throttle::delay(const std::string& address) {
    const auto now = std::chrono::steady_clock::now();
    const lock_guard lock{mu_};
    const auto it = failures_.find(address);
    if (it == failures_.end() || it->second.count == 0 || now - it->second.last > forget_failures_after) {
        return std::chrono::milliseconds{0};
    }
    const unsigned shift = std::min(it->second.count - 1, 6u);
    return std::min(std::chrono::milliseconds{100} * (1u << shift), std::chrono::milliseconds{5000});
}

void login_throttle::failed(const std::string& address) {
    static constexpr auto forget_after = forget_failures_after;
    constexpr std::size_t max_tracked = 100'000;
    const auto now = std::chrono::steady_clock::now();
    const lock_guard lock{mu_};
    if (failures_.size() >= max_tracked) {
        std::erase_if(failures_, [now](const auto& kv) { return now - kv.second.last > forget_after; });
        if (failures_.size() >= max_tracked) {
            failures_.clear();  // bounded memory beats perfect memory of attackers
        }
    }
    auto& f = failures_[address];
    if (now - f.last > forget_after) {
        f.count = 0;
    }
    f.last = now;
    ++f.count;
}

void login_throttle::succeeded(const std::string& address) {
    const lock_guard lock{mu_};
    failures_.erase(address);
}

}  // namespace vigil::mqtt
