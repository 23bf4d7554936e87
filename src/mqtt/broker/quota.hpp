#pragma once
// Quotas that span shards: retained messages (in all and per identity) and persistent
// sessions per identity. One short lock each, never held across I/O; taken per retained
// PUBLISH or per new persistent session, never per ordinary message.

#include <vigil/config/settings.hpp>
#include <vigil/core/message.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/router/local_table.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vigil::mqtt {

/// Whom a client's retained messages are counted against: its identity ("identity 'car-7'"),
/// or, for an anonymous client, its client id ("anonymous client 'x'"): anonymous clients do
/// not share one quota. Used as the owner in retained_quota and in its log lines.
[[nodiscard]] std::string quota_owner(std::string_view identity, std::string_view client_id);

/// Who set each retained message and how much each identity holds.
/// Thread safety: safe.
class retained_quota {
public:
    explicit retained_quota(const config::limits_settings& lim) : lim_(lim) {}

    enum class verdict : unsigned char { ok, over_total, over_identity };

    /// Accounts the retained message `m` set by `owner` (an identity; null: the server
    /// itself, counted in the totals only): it replaces what its topic held. An empty payload
    /// clears the topic and is always ok. Nothing changes when the verdict is not ok.
    [[nodiscard]] verdict update(const message& m, const std::string* owner);
    /// A retained message restored from disk: its owner is not known (totals only).
    void restore(const message& m);

private:
    struct usage {
        std::uint64_t count = 0;
        std::uint64_t bytes = 0;
    };
    struct entry {
        std::string owner;
        bool owned = false;
        std::uint64_t bytes = 0;
    };
    void forget(const entry& e) VIGIL_REQUIRES(mu_);

    const config::limits_settings& lim_;
    mutex mu_;
    std::unordered_map<std::string, entry, router::string_hash, std::equal_to<>> by_topic_ VIGIL_GUARDED_BY(mu_);
    std::unordered_map<std::string, usage> by_owner_ VIGIL_GUARDED_BY(mu_);
    usage total_ VIGIL_GUARDED_BY(mu_);
};

/// How many persistent sessions each identity owns. Anonymous clients (identity "") are not
/// counted: they share no credential a bound could be put on (anonymous access is for loopback
/// or sites that chose it; max_connections and session_expiry bound them).
/// Thread safety: safe.
class session_owners {
public:
    /// Counts one more session of `owner` unless it has `max` already (0: no bound).
    [[nodiscard]] bool try_add(const std::string& owner, std::size_t max);
    /// Counts one more, whatever the bound (recovery).
    void add(const std::string& owner);
    void remove(const std::string& owner);

private:
    mutex mu_;
    std::unordered_map<std::string, std::size_t> counts_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::mqtt
