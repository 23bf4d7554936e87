// The console's files, answered with ETags and a Content-Security-Policy that allows only this
// origin (and images from the configured tile server).
#include <vigil/console/console.hpp>

#include "files.hpp"

#include <vigil/core/json_string.hpp>
#include <vigil/core/text.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace vigil::console {
namespace {

/// `s` as a JSON string, with `<` escaped too, so that no value can close a script element
/// even if the text ever ends up inside a page.
std::string json_string(std::string_view s) {
    std::string quoted;
    append_json_string(quoted, s);
    std::string out;
    out.reserve(quoted.size());
    for (const char c : quoted) {
        if (c == '<') {
            out += "\\u003c";
        } else {
            out += c;
        }
    }
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
    for (std::string_view one : split_commas(if_none_match)) {
        one = trim_spaces(one);
        if (one.starts_with("W/")) {
            one.remove_prefix(2);
        }
        if (one == etag) {
            return true;
        }
    }
    return false;
}

}  // namespace

site::site(const config::settings& s) {
    const std::string tiles = s.ui.tile_url.empty() ? std::string{} : " " + config::tile_origin(s.ui.tile_url);
    csp_ = fmt::format(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{}; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        tiles);
    config_json_ =
        fmt::format(R"({{"tile_url":{},"tile_attribution":{},"lat_field":{},"lon_field":{},"history":{}}})",
                    json_string(s.ui.tile_url), json_string(s.ui.tile_attribution), json_string(s.archive.lat_field),
                    json_string(s.archive.lon_field), s.archive.topics.empty() ? "false" : "true");
    config_etag_ = etag_of(config_json_);
}

bool site::owns(std::string_view path) noexcept { return path == "/" || path.starts_with("/console/"); }

reply site::answer(std::string_view method, std::string_view path, std::string_view if_none_match) const {
    reply r;
    r.headers = {{"Content-Security-Policy", csp_},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"},
                 {"Cross-Origin-Opener-Policy", "same-origin"}};
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
