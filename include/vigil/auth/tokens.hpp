#pragma once
/// API tokens for the HTTP API and the WebSocket push gateway.
///
/// A token is 32 random bytes (base64url) handed to a dashboard once; the tokens file keeps only
/// its SHA-256 (a fast hash is right for a high-entropy secret; passwords use PBKDF2) with what
/// it may do:  `NAME sha256:<hex> sub=<filter>,<filter> pub=<filter>,... [admin]`  ('#' comments).
/// `admin` opens the admin API (/api/v1/admin/...). Names are unique: they identify a token in
/// logs and for revocation.

#include <vigil/auth/permissions.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::config {
struct http_settings;
}

namespace vigil::auth {

struct api_token {
    std::string name;
    std::string hash;                    ///< hex SHA-256 of the secret
    std::vector<std::string> subscribe;  ///< filters whose topics it may read (/ws, /api)
    std::vector<std::string> publish;    ///< filters whose topics it may publish to
    bool admin = false;                  ///< may use the admin API
    bool from_file = true;               ///< in tokens_file (false: an inline [http] tokens entry)
    /// The same as rules: `subscribe` read, `publish` write (built by token_file::parse).
    permissions rights{{}, true};

    /// True when `other` is the same token with the same rights (a reload kept it).
    [[nodiscard]] bool same_as(const api_token& other) const;
};

/// Thread safety: immutable after parse; safe.
class token_file {
public:
    /// Errors: throws config::config_error naming `source:line`.
    [[nodiscard]] static token_file parse(std::string_view text, std::string_view source);
    /// Errors: throws config::config_error.
    [[nodiscard]] static token_file load(const std::string& path);
    /// The tokens of `[http] tokens_file` and `[http] tokens` (inline lines, same format), or
    /// null when neither is set (the API is open).
    /// Errors: throws config::config_error (a bad line, a token in both places).
    [[nodiscard]] static std::shared_ptr<const token_file> load(const config::http_settings& http);

    /// The token whose secret is `secret`, or null.
    [[nodiscard]] std::shared_ptr<const api_token> find(std::string_view secret) const;
    /// The token with this hex SHA-256, or null.
    [[nodiscard]] std::shared_ptr<const api_token> find_hash(std::string_view hash) const;
    [[nodiscard]] std::size_t size() const noexcept { return by_hash_.size(); }
    /// Every token, by name.
    [[nodiscard]] std::vector<std::shared_ptr<const api_token>> all() const;

    /// A fresh secret and the file line that grants it `sub`/`pub` (for `vigil token`).
    struct issued {
        std::string secret;
        std::string line;
    };
    [[nodiscard]] static issued issue(std::string_view name, const std::vector<std::string>& sub,
                                      const std::vector<std::string>& pub, bool admin = false);

    /// `text` (a tokens file) without the line of token `name`; nullopt when no line names it.
    /// Comments and other lines are kept as they are.
    [[nodiscard]] static std::optional<std::string> without(std::string_view text, std::string_view name);
    /// Edits the tokens file at `path` (created, 0600, when absent) under an exclusive lock, so
    /// `vigil token` and the admin API never interleave: `edit` gets its text, which parses,
    /// and returns the new text (nullopt: no change). A symlink is followed; the new file
    /// keeps the old one's mode and owner and replaces it at once (written beside it, then
    /// renamed: never half-written). Returns whether it changed.
    /// Errors: throws config::config_error when the file does not parse or cannot be written.
    static bool edit_file(const std::string& path,
                          const std::function<std::optional<std::string>(const std::string&)>& edit);
    /// Removes token `name` from the tokens file at `path` (edit_file); false when it has no
    /// such token. Errors: as edit_file.
    [[nodiscard]] static bool remove_from_file(const std::string& path, std::string_view name);

private:
    std::map<std::string, std::shared_ptr<const api_token>, std::less<>> by_hash_;  // hex SHA-256
};

}  // namespace vigil::auth
