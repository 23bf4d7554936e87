#include <vigil/console/console.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using namespace vigil;

namespace {

std::string header(const console::reply& r, std::string_view name) {
    const auto it = std::ranges::find_if(r.headers, [name](const auto& h) { return h.first == name; });
    return it == r.headers.end() ? std::string{} : it->second;
}

}  // namespace

TEST_CASE("console: files, revalidation and errors", "[console]") {
    const console::site site{config::default_settings()};
    CHECK(console::site::owns("/"));
    CHECK(console::site::owns("/console/main.js"));
    CHECK_FALSE(console::site::owns("/api/v1/devices"));
    CHECK_FALSE(console::site::owns("/consoles"));

    const auto page = site.answer("GET", "/", "");
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(page.body.find("<script type=\"module\" src=\"/console/main.js\">") != std::string::npos);
    CHECK(header(page, "Cache-Control") == "no-cache");
    CHECK(header(page, "X-Content-Type-Options") == "nosniff");
    const std::string etag = header(page, "ETag");
    REQUIRE(etag.size() > 2);
    CHECK(etag.front() == '"');

    CHECK(site.answer("GET", "/", etag).status == 304);
    CHECK(site.answer("GET", "/", etag).body.empty());
    CHECK(site.answer("GET", "/", "\"a\", W/" + etag).status == 304);
    CHECK(site.answer("GET", "/", "*").status == 304);
    CHECK(site.answer("GET", "/", "\"a\"").status == 200);

    const auto leaflet = site.answer("GET", "/console/vendor/leaflet.js", "");
    CHECK(leaflet.status == 200);
    CHECK(leaflet.content_type == "text/javascript; charset=utf-8");
    CHECK(leaflet.body.starts_with("/* @preserve\n * Leaflet 1.9.4"));
    CHECK(site.answer("GET", "/console/licenses.txt", "").body.find("Natural Earth") != std::string::npos);

    CHECK(site.answer("GET", "/console/nothing.js", "").status == 404);
    CHECK(site.answer("GET", "/console/../console/main.js", "").status == 404);
    const auto post = site.answer("POST", "/", "");
    CHECK(post.status == 405);
    CHECK(header(post, "Allow") == "GET, HEAD");
}

TEST_CASE("console: the security policy and the page's configuration follow [ui]", "[console]") {
    auto s = config::default_settings();
    const std::string plain = console::site{s}.content_security_policy();
    CHECK(plain.starts_with(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"));
    CHECK(plain.find("frame-ancestors 'none'") != std::string::npos);

    s.ui.tile_url = "https://tiles.agency.local/{z}/{x}/{y}.png";
    s.ui.tile_attribution = "Agency \"maps\" </script>";
    s.archive.topics.clear();
    const console::site site{s};
    CHECK(site.content_security_policy().find("img-src 'self' data: https://tiles.agency.local;") != std::string::npos);
    const auto cfg = site.answer("GET", "/console/config.json", "");
    CHECK(cfg.status == 200);
    CHECK(cfg.content_type == "application/json");
    CHECK(
        cfg.body ==
        R"({"tile_url":"https://tiles.agency.local/{z}/{x}/{y}.png","tile_attribution":"Agency \"maps\" \u003c/script>","lat_field":"lat","lon_field":"lon","history":false})");
    CHECK(site.answer("GET", "/console/config.json", std::string{header(cfg, "ETag")}).status == 304);
    CHECK(header(cfg, "Content-Security-Policy") == site.content_security_policy());
}
