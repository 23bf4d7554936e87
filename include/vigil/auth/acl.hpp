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

#include <vigil/auth/permissions.hpp>

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

    /// The rules that apply to this client: its user's (`username` empty: the anonymous
    /// rules before the first `user` line) and every pattern, with `%u` and `%c` replaced.
    /// A value that cannot be substituted safely (empty, or containing `/`, `+` or `#`) makes
    /// a pattern that uses it deny: a grant then grants nothing and a deny denies everything.
    [[nodiscard]] permissions for_client(std::string_view username, std::string_view client_id) const;

    [[nodiscard]] std::size_t rule_count() const noexcept { return rules_.size(); }

private:
    struct rule {
        std::optional<std::string> user;  ///< nullopt: pattern (all users); "" : anonymous
        bool pattern = false;
        access acc = access::none;
        std::string filter;
    };

    std::vector<rule> rules_;
};

}  // namespace vigil::auth
