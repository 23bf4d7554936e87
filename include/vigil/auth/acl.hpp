#pragma once
/// Access control lists in Mosquitto's format:
///
///     # comment
///     topic read $SYS/#            # before any `user` line: applies to anonymous clients
///     user dispatcher
///     topic readwrite devices/#
///     pattern write devices/%c/#   # every user; %c = client id, %u = username
///     pattern read devices/%c/commands
///
/// Once an ACL is configured, everything not allowed is denied. No client may ever publish
/// to a `$SYS` topic.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::auth {

enum class access : std::uint8_t { none = 0, read = 1, write = 2, readwrite = 3 };

/// Thread safety: immutable after parse; safe.
class acl {
public:
    /// Errors: throws config::config_error naming `source:line`.
    [[nodiscard]] static acl parse(std::string_view text, std::string_view source);
    [[nodiscard]] static acl load(const std::string& path);

    /// May this client publish to `topic`? `username` is empty for anonymous clients.
    [[nodiscard]] bool allow_publish(std::string_view username, std::string_view client_id, std::string_view topic) const;
    /// May this client subscribe to `filter`? True only when a read rule covers every
    /// topic the filter can match.
    [[nodiscard]] bool allow_subscribe(std::string_view username, std::string_view client_id, std::string_view filter) const;

    [[nodiscard]] std::size_t rule_count() const noexcept { return rules_.size(); }

private:
    struct rule {
        std::optional<std::string> user;  ///< nullopt: pattern (all users); "" : anonymous
        bool pattern = false;
        access acc = access::none;
        std::string filter;
    };
    template <class Grants, class Touches>
    [[nodiscard]] bool any(std::string_view username, std::string_view client_id, access need, Grants grants, Touches touches) const;

    std::vector<rule> rules_;
};

/// True when every topic matched by `sub` is also matched by `rule` (both valid filters).
[[nodiscard]] bool filter_covers(std::string_view rule, std::string_view sub) noexcept;

}  // namespace vigil::auth
