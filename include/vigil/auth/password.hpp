#pragma once
/// Password hashing and the password file.
///
/// Hashes are PBKDF2-HMAC-SHA512 (FIPS-approved) in Mosquitto's `$7$` format, so a
/// `mosquitto_passwd` file works unchanged:  `user:$7$<iterations>$<base64 salt>$<base64 hash>`.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::auth {

constexpr unsigned default_iterations = 100'000;

/// A fresh salted hash of `password`. Thread safety: safe.
[[nodiscard]] std::string hash_password(std::string_view password, unsigned iterations = default_iterations);

/// True when `password` matches `encoded` (constant-time comparison of the digests).
/// Malformed `encoded` never matches. Cost: `iterations` HMAC rounds, so never call it on a
/// shard thread. Thread safety: safe.
[[nodiscard]] bool verify_password(std::string_view encoded, std::string_view password);

/// The users of a password file. Thread safety: immutable after parse; safe.
class password_file {
public:
    /// Parses `user:hash` lines; blank lines and `#` comments are skipped.
    /// Errors: throws config::config_error naming `source:line`.
    [[nodiscard]] static password_file parse(std::string_view text, std::string_view source);
    /// Reads and parses a file. Errors: throws config::config_error.
    [[nodiscard]] static password_file load(const std::string& path);

    /// The encoded hash of `user`, if the user exists.
    [[nodiscard]] const std::string* find(std::string_view user) const;
    [[nodiscard]] std::size_t size() const noexcept { return users_.size(); }
    /// The users of `before` that this file removed or gave another hash (their logins end).
    [[nodiscard]] std::vector<std::string> revoked_since(const password_file& before) const;

    /// Adds or replaces `user`, or removes it when `hash` is empty.
    void set(const std::string& user, std::string hash);
    /// The file's text: one `user:hash` line per user, sorted.
    [[nodiscard]] std::string text() const;

private:
    std::map<std::string, std::string, std::less<>> users_;
};

}  // namespace vigil::auth
