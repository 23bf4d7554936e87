#include "api.hpp"

#include "admin_api.hpp"
#include "history_api.hpp"

#include <vigil/auth/permissions.hpp>
#include <vigil/http/devices.hpp>
#include <vigil/http/json.hpp>
#include <vigil/http/query.hpp>
#include <vigil/metrics/exposition.hpp>

#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <string>

namespace vigil::app {
namespace {

http::response error(unsigned status, std::string_view message) { return {status, http::error_json(status, message)}; }

/// The last values matching `filter` that the caller may read.
std::vector<message_ref> readable(const mqtt::broker& b, std::string_view filter, const http::caller& who) {
    auto values = b.last_values(filter);
    if (who.reads != nullptr) {
        std::erase_if(values, [&who](const message_ref& m) { return !who.reads->may_read(m->topic()); });
    }
    return values;
}

/// Why the probe is degraded: its error, or how slow it was.
std::string probe_verdict(const probe::stats& p, const config::probe_settings& s) {
    if (!p.last.error.empty()) {
        return p.last.error;
    }
    const auto ms = [](const std::optional<double>& v) {
        return v ? fmt::format("{:.1f} ms", *v * 1e3) : std::string{"-"};
    };
    return fmt::format("slower than max_latency {} ms (publish -> MQTT {}, -> /ws {})", s.max_latency.count(),
                       ms(p.last.mqtt_seconds), ms(p.last.ws_seconds));
}

}  // namespace

http::handler make_api(const mqtt::broker& b, const config::settings& s, const settings_cell& live,
                       const probe::prober* probe, const server_access& server) {
    const auto started = std::chrono::steady_clock::now();
    return [&b, &s, &live, probe, &server, started, fields = track_fields{s.archive.lat_field, s.archive.lon_field}](
               std::string_view method, std::string_view target, const http::caller& who) -> http::response {
        const std::string_view path = target.substr(0, target.find('?'));
        if (path.starts_with("/api/v1/admin/")) {
            return admin_request(b, live, server, method, target, path, who);
        }
        const bool get = method == "GET" || method == "HEAD";
        constexpr std::string_view devices = "/api/v1/devices";
        if (path == "/healthz") {
            if (!get) {
                return error(405, "use GET");
            }
            const auto h = b.health();
            const auto p = probe != nullptr ? std::optional{probe->snapshot()} : std::nullopt;
            // The probe failing or slow makes Vigil degraded, not failing: it may be the
            // network or a slow disk, and a load balancer must not take the node out for it.
            const bool degraded = p && p->now == probe::state::degraded;
            const std::string_view status = !h.store_ok ? "failing" : degraded ? "degraded" : "ok";
            if (!who.authenticated) {
                // Load balancers need no token, and learn nothing but the verdict.
                return {h.store_ok ? 200u : 503u, fmt::format("{{\"status\":\"{}\"}}", status)};
            }
            std::string body = fmt::format("{{\"status\":\"{}\",\"store\":", status);
            http::append_json_string(body, h.store_ok ? std::string{"ok"} : h.store_error);
            body += ",\"archive\":";
            using archive_state = mqtt::broker_health::archive_state;
            http::append_json_string(body, h.archive == archive_state::off  ? std::string{"off"}
                                           : h.archive == archive_state::ok ? std::string{"ok"}
                                                                            : "degraded: " + h.archive_error);
            body += ",\"probe\":";
            http::append_json_string(body, !p                                ? std::string{"off"}
                                           : p->now == probe::state::pending ? std::string{"pending"}
                                           : p->now == probe::state::ok      ? std::string{"ok"}
                                                                        : "degraded: " + probe_verdict(*p, s.probe));
            body += fmt::format(",\"connections\":{}}}", h.open_connections);
            return {h.store_ok ? 200u : 503u, std::move(body)};
        }
        if (path == "/metrics") {
            if (!get) {
                return error(405, "use GET");
            }
            // Any valid token may scrape (counts, no data); the shards are asked off the shard.
            http::response r;
            r.later = [&b, &live, probe, &server, started](http::response& out) {
                metrics::snapshot snap;
                snap.broker = b.stats();
                snap.listeners = b.listeners();
                snap.process = metrics::sample_process();
                snap.tls = metrics::read_tls_expiry(*live.get());
                const auto web = server.counters();
                snap.http_responses = web.responses;
                snap.https_handshakes = web.tls_handshakes;
                snap.https_failures = web.tls_failures;
                if (probe != nullptr) {
                    snap.probe = probe->snapshot();
                }
                snap.version = VIGIL_VERSION;
                snap.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
                out.body = metrics::render(snap);
                out.content_type = std::string{metrics::content_type};
            };
            return r;
        }
        if (path == "/api/v1/history") {
            if (!get) {
                return error(405, "use GET");
            }
            return history_request(b, target, who);
        }
        if (path == devices || path == std::string{devices} + "/") {
            if (!get) {
                return error(405, "use GET");
            }
            return {200, http::devices_json(readable(b, "devices/#", who))};
        }
        if (path.starts_with(std::string{devices} + "/")) {
            if (!get) {
                return error(405, "use GET");
            }
            std::string_view rest = path.substr(devices.size() + 1);
            const bool track = rest.ends_with("/track");
            if (track) {
                rest.remove_suffix(6);
            }
            const auto id = http::percent_decode(rest);
            if (!id || id->empty() || id->find_first_of("/+#") != std::string::npos) {
                return error(400, "a device id is one topic level: no '/', '+', '#' or NUL");
            }
            if (track) {
                return track_request(b, *id, target, who, fields);
            }
            if (auto one = http::device_json(readable(b, fmt::format("devices/{}/+", *id), who), *id)) {
                return {200, std::move(*one)};
            }
            return error(404, fmt::format("no values known for device '{}'", *id));
        }
        return error(404, fmt::format("no route for {}", path));
    };
}

}  // namespace vigil::app
