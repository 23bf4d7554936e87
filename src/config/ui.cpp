// `[ui]`: the operations console and its map tiles.
#include "context.hpp"

#include <algorithm>
#include <cctype>

namespace vigil::config {
namespace {

/// The origin of an http(s) URL template whose host is plain (letters, digits, '.', '-', or a
/// bracketed IPv6 address) with an optional port: it goes into a Content-Security-Policy
/// header, so nothing else may pass. Empty when the URL is not one.
std::string origin_of(std::string_view url) {
    const std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return {};
    }
    const std::string_view scheme = url.substr(0, scheme_end);
    if (scheme != "https" && scheme != "http") {
        return {};
    }
    const std::string_view rest = url.substr(scheme_end + 3);
    const std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view host = authority;
    std::string_view port;
    if (host.starts_with('[')) {
        const std::size_t close = host.find(']');
        if (close == std::string_view::npos) {
            return {};
        }
        port = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (host.empty() || !std::ranges::all_of(host, [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
            })) {
            return {};
        }
    } else {
        const std::size_t colon = host.find(':');
        if (colon != std::string_view::npos) {
            port = host.substr(colon);
            host = host.substr(0, colon);
        }
        if (host.empty() || !std::ranges::all_of(host, [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
            })) {
            return {};
        }
    }
    if (!port.empty() && (port.size() < 2 || port.size() > 6 || port[0] != ':' ||
                          !std::ranges::all_of(port.substr(1), [](char c) { return c >= '0' && c <= '9'; }))) {
        return {};
    }
    return std::string{url.substr(0, scheme_end + 3 + authority.size())};
}

}  // namespace

std::string tile_origin(std::string_view tile_url) { return origin_of(tile_url); }

void parse_ui(const context& cx, const toml::table& t, ui_settings& u) {
    cx.only(t, {"enabled", "tile_url", "tile_attribution"}, "ui.");
    if (const auto* v = t.get("enabled")) {
        const auto* b = v->as_boolean();
        if (b == nullptr) {
            cx.fail(*v, "'ui.enabled' must be true or false");
        }
        u.enabled = b->get();
    }
    if (const auto* v = t.get("tile_url")) {
        u.tile_url = cx.string(*v, "ui.tile_url");
        const bool has_xyz = u.tile_url.find("{z}") != std::string::npos &&
                             u.tile_url.find("{x}") != std::string::npos && u.tile_url.find("{y}") != std::string::npos;
        const bool plain = std::ranges::none_of(u.tile_url, [](char c) {
            return c <= ' ' || c == '"' || c == '\'' || c == ';' || c == ',' || c == '\\' || c == 0x7f;
        });
        if (!u.tile_url.empty() && (!has_xyz || !plain || origin_of(u.tile_url).empty())) {
            cx.fail(*v,
                    fmt::format("'ui.tile_url' must be an http(s) URL with {{z}}, {{x}} and {{y}} and a plain host, "
                                "e.g. \"https://tiles.agency.local/{{z}}/{{x}}/{{y}}.png\"; got \"{}\"",
                                u.tile_url));
        }
    }
    if (const auto* v = t.get("tile_attribution")) {
        u.tile_attribution = cx.string(*v, "ui.tile_attribution");
        if (u.tile_attribution.size() > 512) {
            cx.fail(*v, "'ui.tile_attribution' must be at most 512 bytes");
        }
    }
}

}  // namespace vigil::config
