#pragma once
/// What one identity may read and write: the ACL rules that apply to it (with `%c` and `%u`
/// substituted) or an API token's filters, compiled once per identity and reload.
///
/// Design note. A subscription is judged once, when it is made (or the rules are reloaded):
/// `scope_of` says whether every topic its filter can match is readable (`all`: deliveries
/// need no check), only some are (`some`: granted, and every delivered message is checked
/// with `may_read`), or none is (`none`: refused). Deny rules win over grants, and a deny rule
/// is checked by intersection, not coverage: `devices/+/status` and `devices/car-9/#` share
/// `devices/car-9/status` although neither filter covers the other.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::auth {

/// How much of a filter an identity may read.
enum class read_scope : unsigned char {
    none,  ///< no topic the filter can match is readable: SUBACK 0x80
    some,  ///< some are: grant, and check every message delivered through it
    all,   ///< every one is: grant, no per-message check
};

/// Thread safety: immutable; safe.
class permissions {
public:
    /// One rule after substitution. `read`/`write` false on both: a deny rule.
    struct rule {
        std::string filter;
        bool read = false;
        bool write = false;
    };

    /// From rules in file order. `deny_all`: a rule could not be applied safely (a pattern
    /// whose `%c`/`%u` value contains `/`, `+` or `#`), so nothing is allowed.
    permissions(std::vector<rule> rules, bool deny_all);

    /// May this identity publish to `topic` (a valid name)? Never for `$` topics.
    [[nodiscard]] bool may_write(std::string_view topic) const;
    /// May a message on `topic` (a valid name) be delivered to this identity?
    [[nodiscard]] bool may_read(std::string_view topic) const;
    /// How much of `filter` (a valid filter) is readable. Filters whose readable part is
    /// covered only by several deny rules together are reported `some` (each message is
    /// then checked and withheld), never `all`.
    [[nodiscard]] read_scope scope_of(std::string_view filter) const;

    [[nodiscard]] bool deny_all() const noexcept { return deny_all_; }

private:
    std::vector<rule> grants_;
    std::vector<std::string> denies_;
    bool deny_all_;
};

}  // namespace vigil::auth
