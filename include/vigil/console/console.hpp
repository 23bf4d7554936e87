#pragma once
/// The operations console: a web UI for dispatchers (live map, device list, event feed, device
/// panel with track replay and commands) compiled into the binary and served at `/` and
/// `/console/...` on the HTTP listeners. Its files hold no data, so they are served without a
/// token; the page signs in with an API token to read anything (the API and /ws check it).

#include <vigil/config/settings.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::console {

/// An answer to a request for one of the console's files.
struct reply {
    unsigned status = 200;
    std::string_view content_type;
    std::string body;
    /// Header fields beyond the content type: caching (ETag) and the security policy.
    std::vector<std::pair<std::string_view, std::string>> headers;
};

/// Thread safety: immutable after construction; answer() from any thread.
class site {
public:
    /// `s` gives `[ui]` (tile server) and what the page needs to know (the location payload's
    /// field names, whether history is kept).
    explicit site(const config::settings& s);

    /// True for the paths the console serves: `/` and `/console/...`.
    [[nodiscard]] static bool owns(std::string_view path) noexcept;

    /// The answer to `method path` (`path` owned by the console): 200 with the file, 304 when
    /// `if_none_match` names its ETag, 404 for an unknown file, 405 for anything but GET/HEAD.
    [[nodiscard]] reply answer(std::string_view method, std::string_view path, std::string_view if_none_match) const;

    /// The Content-Security-Policy of every console response: only this origin, and images
    /// from the configured tile server.
    [[nodiscard]] const std::string& content_security_policy() const noexcept { return csp_; }

private:
    std::string csp_;
    std::string config_json_;  // /console/config.json
    std::string config_etag_;
};

}  // namespace vigil::console
