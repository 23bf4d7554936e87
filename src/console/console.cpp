// The console's files, answered with ETags and a Content-Security-Policy that allows only this
// origin (and images from the configured tile server).
#include <vigil/console/console.hpp>

#include "files.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vigil::console {
namespace {

/// `s` as a JSON string (config values: printable ASCII or UTF-8 without control characters
/// once parsed by the config, but escaped here whatever they hold).
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else if (c == '<') {
            out += "\\u003c";
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

/// An ETag for `text`: FNV-1a, enough to tell one configuration from another.
std::string etag_of(std::string_view text) {
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : text) {
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
    return fmt::format("\"c{:016x}\"", h);
}

/// Whether an If-None-Match header names `etag` (a list, or `*`).
bool matches(std::string_view if_none_match, std::string_view etag) {
    if (if_none_match.empty()) {
        return false;
    }
    if (if_none_match == "*") {
        return true;
    }
    std::size_t at = 0;
    while (at < if_none_match.size()) {
        const std::size_t comma = std::min(if_none_match.find(',', at), if_none_match.size());
        std::string_view one = if_none_match.substr(at, comma - at);
        while (!one.empty() && one.front() == ' ') {
            one.remove_prefix(1);
        }
        while (!one.empty() && one.back() == ' ') {
            one.remove_suffix(1);
        }
        if (one.starts_with("W/")) {
            one.remove_prefix(2);
        }
        if (one == etag) {
            return true;
        }
        at = comma + 1;
    }
    return false;
}

}  // namespace

site::site(const config::settings& s) {
    const std::string tiles = s.ui.tile_url.empty() ? std::string{} : " " + config::tile_origin(s.ui.tile_url);
    csp_ = fmt::format("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{}; connect-src 'self'; "
                       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                       tiles);
    config_json_ = fmt::format(R"({{"tile_url":{},"tile_attribution":{},"lat_field":{},"lon_field":{},"history":{}}})", json_string(s.ui.tile_url),
                               json_string(s.ui.tile_attribution), json_string(s.archive.lat_field), json_string(s.archive.lon_field),
                               s.archive.topics.empty() ? "false" : "true");
    config_etag_ = etag_of(config_json_);
}

bool site::owns(std::string_view path) noexcept { return path == "/" || path.starts_with("/console/"); }

reply site::answer(std::string_view method, std::string_view path, std::string_view if_none_match) const {
    reply r;
    r.headers = {{"Content-Security-Policy", csp_}, {"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"}, {"Cross-Origin-Opener-Policy", "same-origin"}};
    if (method != "GET" && method != "HEAD") {
        r.status = 405;
        r.content_type = "application/json";
        r.body = R"({"error":"the console is read with GET","status":405})";
        r.headers.emplace_back("Allow", "GET, HEAD");
        r.headers.emplace_back("Cache-Control", "no-store");
        return r;
    }
    std::string_view type;
    std::string_view body;
    std::string_view etag;
    if (path == "/console/config.json") {
        type = "application/json";
        body = config_json_;
        etag = config_etag_;
    } else {
        const auto all = files();
        const auto f = std::ranges::find_if(all, [path](const file& x) { return x.url == path; });
        if (f == all.end()) {
            r.status = 404;
            r.content_type = "application/json";
            r.body = R"({"error":"no such file in the console","status":404})";
            r.headers.emplace_back("Cache-Control", "no-store");
            return r;
        }
        type = f->content_type;
        body = f->body;
        etag = f->etag;
    }
    // Revalidated on every load (a 304 costs a round trip, never a stale console after an
    // upgrade).
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("ETag", std::string{etag});
    r.content_type = type;
    if (matches(if_none_match, etag)) {
        r.status = 304;
        return r;
    }
    r.body.assign(body);
    return r;
}

}  // namespace vigil::console
