#include <vigil/config/settings.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace vigil::config;
using Catch::Matchers::Contains;

TEST_CASE("config: defaults listen on loopback", "[config]") {
    const auto s = default_settings();
    REQUIRE(s.listeners.size() == 1);
    CHECK(s.listeners[0].bind == "127.0.0.1");
    CHECK(s.listeners[0].port == 1883);
    CHECK(s.listeners[0].backlog >= 4096);
}

TEST_CASE("config: a full file parses", "[config]") {
    const auto s = parse_settings(R"(
workers = 4
log_level = "warn"
[[listener]]
bind = "0.0.0.0"
port = 1884
backlog = 8192
allow_anonymous = true
[[listener]]
bind = "::1"
port = 0
[limits]
max_inflight = 10
max_queued = 500
max_packet_size = 1024
max_outbound_bytes = 65536
connect_timeout = "2s"
)",
                                  "t.toml");
    CHECK(s.workers == 4);
    CHECK(s.log_level == vigil::log::level::warn);
    REQUIRE(s.listeners.size() == 2);
    CHECK(s.listeners[0].port == 1884);
    CHECK(s.listeners[0].backlog == 8192);
    CHECK(s.listeners[0].allow_anonymous);
    CHECK(s.listeners[1].bind == "::1");
    CHECK(s.listeners[1].allow_anonymous);  // loopback default
    CHECK(s.limits.max_inflight == 10);
    CHECK(s.limits.max_queued == 500);
    CHECK(s.limits.max_packet_size == 1024);
    CHECK(s.limits.connect_timeout == std::chrono::seconds{2});
}

TEST_CASE("config: errors name file and line", "[config]") {
    CHECK_THROWS_WITH(parse_settings("workers = 1\nwokers = 2\n", "a.toml"),
                      Contains("a.toml:2") && Contains("unknown key 'wokers'"));
    CHECK_THROWS_WITH(parse_settings("\n\nworkers = -1\n", "b.toml"),
                      Contains("b.toml:3") && Contains("between 0 and 64"));
    CHECK_THROWS_WITH(parse_settings("[[listener]]\nport = 70000\n", "c.toml"), Contains("c.toml:2"));
    CHECK_THROWS_WITH(parse_settings("[[listener]]\nbind = \"nowhere\"\n", "d.toml"),
                      Contains("d.toml:2") && Contains("IP address"));
    CHECK_THROWS_WITH(parse_settings("[limits]\nconnect_timeout = \"soon\"\n", "e.toml"),
                      Contains("e.toml:2") && Contains("duration"));
    CHECK_THROWS_WITH(parse_settings("[limits]\nmax_qeued = 1\n", "f.toml"),
                      Contains("f.toml:2") && Contains("limits.max_qeued"));
    CHECK_THROWS_WITH(parse_settings("workers = \n", "g.toml"), Contains("g.toml:1"));
    CHECK_THROWS_WITH(parse_settings("log_level = \"loud\"\n", "h.toml"), Contains("h.toml:1"));
    CHECK_THROWS_WITH(parse_settings("[[listener]]\nport = 1\n[[listener]]\nport = 1\n", "i.toml"),
                      Contains("i.toml:3") && Contains("declared twice"));
}

TEST_CASE("config: secure by default beyond loopback", "[config]") {
    CHECK_THROWS_WITH(parse_settings("[[listener]]\nbind = \"0.0.0.0\"\n", "s.toml"),
                      Contains("s.toml:1") && Contains("password_file"));
    const auto with_passwords =
        parse_settings("[auth]\npassword_file = \"/etc/vigil/passwd\"\n[[listener]]\nbind = \"10.0.0.5\"\n", "p.toml");
    CHECK_FALSE(with_passwords.listeners[0].allow_anonymous);
    CHECK(with_passwords.auth.password_file == "/etc/vigil/passwd");
    CHECK_THROWS_WITH(parse_settings("[auth]\npasword_file = \"x\"\n", "a.toml"),
                      Contains("a.toml:2") && Contains("auth.pasword_file"));
    CHECK_THROWS_WITH(parse_settings("[[listener]]\nallow_anonymous = \"yes\"\n", "b.toml"), Contains("b.toml:2"));
}

TEST_CASE("config: TLS listener keys", "[config]") {
    const auto s = parse_settings(
        "[[listener]]\nport = 8883\ntls.cert = \"c\"\ntls.key = \"k\"\ntls.ca = \"ca\"\n"
        "tls.require_certificate = true\ntls.use_identity_as_username = true\ntls.identity = \"san-dns\"\n",
        "t.toml");
    REQUIRE(s.listeners[0].tls);
    CHECK(s.listeners[0].tls->identity == "san-dns");
    CHECK(s.listeners[0].tls->require_certificate);
    CHECK_THROWS_WITH(parse_settings("[[listener]]\ntls.cert = \"c\"\n", "a.toml"),
                      Contains("a.toml:2") && Contains("tls.key"));
    CHECK_THROWS_WITH(
        parse_settings("[[listener]]\ntls.cert = \"c\"\ntls.key = \"k\"\ntls.identity = \"serial\"\n", "b.toml"),
        Contains("b.toml:4") && Contains("san-dns"));
    CHECK_THROWS_WITH(
        parse_settings("[[listener]]\ntls.cert = \"c\"\ntls.key = \"k\"\ntls.use_identity_as_username = true\n",
                       "c.toml"),
        Contains("require_certificate"));
}

TEST_CASE("config: durations", "[config]") {
    std::chrono::milliseconds d{};
    CHECK(parse_duration("250ms", d));
    CHECK(d.count() == 250);
    CHECK(parse_duration("30d", d));
    CHECK(d == std::chrono::hours{24 * 30});
    CHECK_FALSE(parse_duration("10", d));
    CHECK_FALSE(parse_duration("s", d));
    CHECK_FALSE(parse_duration("-1s", d));
}

TEST_CASE("config: store and last-value keys", "[config]") {
    const auto d = default_settings();
    CHECK(d.data_dir == "./var");
    CHECK(d.durability == durability_mode::durable);
    CHECK(d.state.topics == std::vector<std::string>{"devices/+/location", "devices/+/status"});

    const auto s = parse_settings(R"(
data_dir = "/var/lib/vigil"
durability = "fast"
[state]
topics = ["fleet/#"]
)",
                                  "s.toml");
    CHECK(s.data_dir == "/var/lib/vigil");
    CHECK(s.durability == durability_mode::fast);
    CHECK(s.state.topics == std::vector<std::string>{"fleet/#"});

    CHECK_THROWS_WITH(parse_settings("durability = \"sometimes\"\n", "a.toml"),
                      Contains("a.toml:1") && Contains("\"durable\" or \"fast\""));
    CHECK_THROWS_WITH(parse_settings("data_dir = \"\"\n", "b.toml"), Contains("b.toml:1"));
    CHECK_THROWS_WITH(parse_settings("[state]\ntopics = [\"a/#/b\"]\n", "c.toml"),
                      Contains("c.toml:2") && Contains("not a valid topic filter"));
    CHECK_THROWS_WITH(parse_settings("[state]\ntopic = []\n", "d.toml"),
                      Contains("d.toml:2") && Contains("state.topic"));
}

TEST_CASE("config: archive keys, with their defaults and bounds", "[config]") {
    const auto d = default_settings();
    CHECK(d.archive.topics ==
          std::vector<std::string>{"devices/+/location", "devices/+/status", "devices/+/events", "vigil/probe"});
    CHECK(d.archive.retention == std::chrono::hours{24 * 30});
    CHECK(d.archive.flush_interval == std::chrono::seconds{1});
    CHECK(d.archive.max_bytes == 0);

    const auto s = parse_settings(R"(
[archive]
topics = ["fleet/#"]
retention = "forever"
max_bytes = "10GiB"
flush_interval = "250ms"
max_pending_bytes = "16MiB"
min_free_disk = "1GiB"
lat_field = "latitude"
lon_field = "longitude"
)",
                                  "s.toml");
    CHECK(s.archive.topics == std::vector<std::string>{"fleet/#", "vigil/probe"});
    CHECK(s.archive.lat_field == "latitude");
    CHECK(s.archive.lon_field == "longitude");
    CHECK(d.archive.lat_field == "lat");
    CHECK(s.archive.retention.count() == 0);
    CHECK(s.archive.max_bytes == std::uint64_t{10} << 30);
    CHECK(s.archive.flush_interval == std::chrono::milliseconds{250});
    CHECK(s.archive.max_pending_bytes == 16u << 20);
    CHECK(s.archive.min_free_disk == std::uint64_t{1} << 30);
    CHECK(d.archive.min_free_disk == 256u << 20);
    CHECK(parse_settings("[archive]\ntopics = []\n", "o.toml").archive.topics.empty());

    CHECK_THROWS_WITH(parse_settings("[archive]\ntopics = [\"$SYS/#\"]\n", "a.toml"),
                      Contains("a.toml:2") && Contains("outside $"));
    CHECK_THROWS_WITH(parse_settings("[archive]\nretention = \"soon\"\n", "b.toml"),
                      Contains("b.toml:2") && Contains("archive.retention"));
    CHECK_THROWS_WITH(parse_settings("[archive]\nmax_pending_bytes = 10\n", "c.toml"),
                      Contains("c.toml:2") && Contains("max_pending_bytes"));
    CHECK_THROWS_WITH(parse_settings("[archive]\nflush = \"1s\"\n", "d.toml"),
                      Contains("d.toml:2") && Contains("archive.flush"));
    CHECK_THROWS_WITH(parse_settings("archive = 1\n", "e.toml"),
                      Contains("e.toml:1") && Contains("'archive' must be a table"));
    CHECK_THROWS_WITH(parse_settings("[archive]\nlat_field = \"\"\n", "f.toml"),
                      Contains("f.toml:2") && Contains("archive.lat_field"));
}

TEST_CASE("config: http listeners", "[config]") {
    CHECK(default_settings().http_listeners.size() == 1);
    CHECK(default_settings().http_listeners[0].port == 8080);
    CHECK(parse_settings("workers = 1\n", "a.toml").http_listeners.size() == 1);  // the default
    const auto s =
        parse_settings("[[http.listener]]\nbind = \"::1\"\nport = 0\n[[http.listener]]\nport = 9090\n", "h.toml");
    REQUIRE(s.http_listeners.size() == 2);
    CHECK(s.http_listeners[0].bind == "::1");
    CHECK(s.http_listeners[1].bind == "127.0.0.1");
    CHECK(s.http_listeners[1].port == 9090);
    CHECK_THROWS_WITH(parse_settings("[[http.listener]]\nbind = \"0.0.0.0\"\n", "b.toml"),
                      Contains("b.toml:1") && Contains("tokens_file"));
    const auto open = parse_settings(
        "[http]\ntokens_file = \"/etc/vigil/tokens\"\nallowed_origins = "
        "[\"https://d.example\"]\n[[http.listener]]\nbind = \"0.0.0.0\"\n",
        "t.toml");
    CHECK(open.http.tokens_file == "/etc/vigil/tokens");
    CHECK(open.http.allowed_origins == std::vector<std::string>{"https://d.example"});
    CHECK(open.http_listeners.at(0).bind == "0.0.0.0");
    CHECK_THROWS_WITH(parse_settings("[[http.listener]]\nprot = 1\n", "c.toml"),
                      Contains("c.toml:2") && Contains("http.listener.prot"));
    CHECK_THROWS_WITH(parse_settings("[http]\nlistener = 3\n", "d.toml"), Contains("d.toml:2"));
}

TEST_CASE("config: session expiry", "[config]") {
    CHECK(default_settings().limits.session_expiry.count() == 0);
    CHECK(parse_settings("[limits]\nsession_expiry = \"7d\"\n", "a.toml").limits.session_expiry ==
          std::chrono::hours{168});
    CHECK(parse_settings("[limits]\nsession_expiry = \"never\"\n", "a.toml").limits.session_expiry.count() == 0);
    CHECK_THROWS_WITH(parse_settings("[limits]\nsession_expiry = \"soon\"\n", "b.toml"),
                      Contains("b.toml:2") && Contains("never"));
}

TEST_CASE("config: $SYS interval", "[config]") {
    CHECK(default_settings().sys_interval == std::chrono::seconds{10});
    CHECK(parse_settings("sys_interval = \"500ms\"\n", "a.toml").sys_interval == std::chrono::milliseconds{500});
    CHECK(parse_settings("sys_interval = \"off\"\n", "a.toml").sys_interval.count() == 0);
    CHECK_THROWS_WITH(parse_settings("sys_interval = \"0s\"\n", "b.toml"), Contains("b.toml:1") && Contains("off"));
}

TEST_CASE("config: [probe] keys and bounds", "[config]") {
    const auto d = default_settings().probe;
    CHECK(d.interval == std::chrono::seconds{30});
    CHECK(d.max_latency == std::chrono::seconds{1});
    CHECK(d.topic == "vigil/probe");
    const auto p =
        parse_settings(
            "[probe]\ninterval = \"5s\"\nmax_latency = \"250ms\"\ntopic = \"ops/probe\"\nusername = \"probe\"\n"
            "password = \"pw\"\ntoken = \"t\"\nca = \"ca.crt\"\ncert = \"c.crt\"\nkey = \"c.key\"\n",
            "a.toml")
            .probe;
    CHECK(p.interval == std::chrono::seconds{5});
    CHECK(p.max_latency == std::chrono::milliseconds{250});
    CHECK(p.topic == "ops/probe");
    CHECK(p.username == "probe");
    CHECK(parse_settings("[probe]\ninterval = \"off\"\n", "a.toml").probe.interval.count() == 0);
    CHECK_THROWS_WITH(parse_settings("[probe]\ninterval = \"10ms\"\n", "b.toml"),
                      Contains("b.toml:2") && Contains("100ms"));
    CHECK_THROWS_WITH(parse_settings("[probe]\nmax_latency = \"2m\"\n", "b.toml"), Contains("60s"));
    CHECK_THROWS_WITH(parse_settings("[probe]\ntopic = \"a/+\"\n", "b.toml"), Contains("probe.topic"));
    CHECK_THROWS_WITH(parse_settings("[probe]\ntopic = \"a/\\\"x\"\n", "b.toml"), Contains("quotes"));
    CHECK_THROWS_WITH(parse_settings("[probe]\ntopic = \"$SYS/x\"\n", "b.toml"), Contains("probe.topic"));
    CHECK_THROWS_WITH(parse_settings("[probe]\ncert = \"c.crt\"\n", "b.toml"), Contains("go together"));
    CHECK_THROWS_WITH(parse_settings("[probe]\nwhat = 1\n", "b.toml"), Contains("what"));
    CHECK_THROWS_WITH(parse_settings("sys_interval = \"1ms\"\n", "b.toml"), Contains("100ms"));
}

TEST_CASE("config: the archive keeps the probe's topic while both are on", "[config]") {
    using topics = std::vector<std::string>;
    CHECK(default_settings().archive.topics ==
          topics{"devices/+/location", "devices/+/status", "devices/+/events", "vigil/probe"});
    CHECK(parse_settings("[probe]\ntopic = \"ops/probe\"\n[archive]\ntopics = [\"a/#\"]\n", "a.toml").archive.topics ==
          topics{"a/#", "ops/probe"});
    CHECK(
        parse_settings("[probe]\ntopic = \"ops/probe\"\n[archive]\ntopics = [\"ops/#\"]\n", "a.toml").archive.topics ==
        topics{"ops/#"});
    CHECK(parse_settings("[probe]\ninterval = \"off\"\n[archive]\ntopics = [\"a/#\"]\n", "a.toml").archive.topics ==
          topics{"a/#"});
    CHECK(parse_settings("[archive]\ntopics = []\n", "a.toml").archive.topics.empty());
}

TEST_CASE("config: [ui] keys, and tile URLs that could break out of the page's policy", "[config]") {
    const auto d = default_settings();
    CHECK(d.ui.enabled);
    CHECK(d.ui.tile_url.empty());

    const auto s = parse_settings(R"(
[ui]
enabled = false
tile_url = "https://tiles.agency.local:8443/osm/{z}/{x}/{y}.png"
tile_attribution = "(c) OpenStreetMap contributors"
)",
                                  "u.toml");
    CHECK_FALSE(s.ui.enabled);
    CHECK(s.ui.tile_attribution == "(c) OpenStreetMap contributors");
    CHECK(tile_origin(s.ui.tile_url) == "https://tiles.agency.local:8443");
    CHECK(tile_origin("http://[fd00::7]:8080/{z}/{x}/{y}") == "http://[fd00::7]:8080");
    CHECK(tile_origin("http://10.1.2.3/{z}/{x}/{y}") == "http://10.1.2.3");

    for (const char* bad :
         {"https://t.example/{z}/{x}.png", "https://t.example/{z}/{x}/{y}.png; script-src *", "javascript:x//{z}{x}{y}",
          "https://t.example/{z}/{x}/{y}.png 'unsafe-inline'", "https://user@t.example/{z}/{x}/{y}",
          "https://t.example:99999999/{z}/{x}/{y}", "https://t_ex/{z}/{x}/{y}", "https:///{z}/{x}/{y}",
          "//t.example/{z}/{x}/{y}", "https://[::1/{z}/{x}/{y}"}) {
        INFO(bad);
        CHECK_THROWS_WITH(parse_settings(fmt::format("[ui]\ntile_url = \"{}\"\n", bad), "v.toml"),
                          Contains("v.toml:2") && Contains("'ui.tile_url'"));
    }
    CHECK_THROWS_WITH(parse_settings("[ui]\ntiles = \"x\"\n", "w.toml"), Contains("w.toml:2") && Contains("ui.tiles"));
    CHECK_THROWS_WITH(parse_settings("[ui]\nenabled = \"yes\"\n", "x.toml"),
                      Contains("x.toml:2") && Contains("true or false"));
}
