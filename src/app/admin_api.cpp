#include "admin_api.hpp"

#include <vigil/auth/tokens.hpp>
#include <vigil/core/log.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/http/devices.hpp>
#include <vigil/http/json.hpp>
#include <vigil/http/query.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <chrono>

namespace vigil::app {
namespace {

constexpr std::string_view prefix = "/api/v1/admin/";
constexpr std::size_t default_limit = 1000;
constexpr std::size_t max_limit = 100'000;

http::response error(unsigned status, std::string_view message) { return {status, http::error_json(status, message)}; }

std::string who_is(const http::caller& who) {
    return fmt::format("{} ({})", who.peer,
                       who.token != nullptr ? fmt::format("token '{}'", who.token->name)
                                            : std::string{"open API, no tokens configured"});
}

/// `target` with the value of an access_token parameter hidden: secrets stay out of logs.
std::string redacted(std::string_view target) {
    std::string out{target};
    for (std::size_t at = out.find("access_token="); at != std::string::npos; at = out.find("access_token=", at + 1)) {
        if (at > 0 && out[at - 1] != '?' && out[at - 1] != '&') {
            continue;
        }
        const std::size_t from = at + 13;
        const std::size_t to = std::min(out.find('&', from), out.size());
        out.replace(from, to - from, "***");
    }
    return out;
}

/// Runs `work` off the shard (the broker's admin calls wait for the shards).
http::response later(std::function<http::response()> work) {
    http::response r;
    r.later = [work = std::move(work)](http::response& out) { out = work(); };
    return r;
}

/// 503 when a shard did not answer an admin call in time.
http::response unanswered() {
    return error(503,
                 "a shard did not answer within 2 s (see vigil_shards_unresponsive); the action may still take place");
}

std::string utc_ms(std::int64_t ms) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", std::chrono::sys_seconds{std::chrono::seconds{ms / 1000}},
                       ms % 1000);
}

void append_client(std::string& out, const mqtt::client_info& c) {
    out += "{\"client_id\":";
    http::append_json_string(out, c.client_id);
    out += ",\"identity\":";
    if (c.identity.empty()) {
        out += "null";
    } else {
        http::append_json_string(out, c.identity);
    }
    out += fmt::format(",\"online\":{},\"persistent\":{}", c.online, c.persistent);
    if (c.online) {
        out += ",\"address\":";
        http::append_json_string(out, c.address);
        out += fmt::format(",\"transport\":\"{}\",\"listener\":{},\"connected_since\":\"{}\"", c.transport, c.listener,
                           utc_ms(c.since_ms));
    }
    out += ",\"subscriptions\":[";
    for (std::size_t i = 0; i < c.subscriptions.size(); ++i) {
        out += i == 0 ? "{\"filter\":" : ",{\"filter\":";
        http::append_json_string(out, c.subscriptions[i].first);
        out += fmt::format(",\"qos\":{}}}", static_cast<int>(c.subscriptions[i].second));
    }
    out += fmt::format("],\"queued\":{},\"inflight\":{}}}", c.queued, c.inflight);
}

std::optional<std::size_t> limit_of(const http::params& p) {
    const auto it = p.find("limit");
    if (it == p.end()) {
        return default_limit;
    }
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc{} || end != it->second.data() + it->second.size() || n == 0 || n > max_limit) {
        return std::nullopt;
    }
    return n;
}

/// The one path segment after `route` (percent-decoded), or nullopt.
std::optional<std::string> segment(std::string_view path, std::string_view route) {
    if (!path.starts_with(route) || path.size() == route.size()) {
        return std::nullopt;
    }
    return http::percent_decode(path.substr(route.size()));
}

http::response clients(const mqtt::broker& b, std::size_t limit) {
    const auto list = b.connected_clients(limit);
    std::string body = "{\"clients\":[";
    for (std::size_t i = 0; i < list.clients.size(); ++i) {
        if (i > 0) {
            body += ',';
        }
        append_client(body, list.clients[i]);
    }
    body +=
        fmt::format("],\"count\":{},\"total\":{},\"complete\":{}}}", list.clients.size(), list.total, list.complete);
    return {200, std::move(body)};
}

/// A change's outcome as an answer: `done` when carried out.
http::response outcome(mqtt::broker::admin_result r, std::string_view missing, std::function<http::response()> done) {
    switch (r) {
        case mqtt::broker::admin_result::done:
            return done();
        case mqtt::broker::admin_result::not_found:
            return error(404, missing);
        case mqtt::broker::admin_result::no_answer:
            break;
    }
    return unanswered();
}

http::response retained(const mqtt::broker& b, const std::string& filter, std::size_t limit) {
    const auto all = b.retained(filter);
    std::string body = "{\"retained\":[";
    std::size_t n = 0;
    for (const auto& m : all) {
        if (n == limit) {
            break;
        }
        body += n++ == 0 ? "{\"topic\":" : ",{\"topic\":";
        http::append_json_string(body, m->topic());
        body += fmt::format(",\"qos\":{},\"payload\":", static_cast<int>(m->published_qos()));
        http::append_payload(body, *m);
        body += '}';
    }
    body += fmt::format("],\"count\":{},\"total\":{}}}", n, all.size());
    return {200, std::move(body)};
}

http::response tokens_list(const server_access& server) {
    const auto in_force = server.tokens();
    if (!in_force) {
        return error(404, "no API tokens are configured: the API is open to loopback clients");
    }
    std::string body = "{\"tokens\":[";
    bool first = true;
    for (const auto& t : in_force->all()) {
        body += first ? "{\"name\":" : ",{\"name\":";
        first = false;
        http::append_json_string(body, t->name);
        body += fmt::format(",\"admin\":{},\"source\":\"{}\",\"subscribe\":[", t->admin,
                            t->from_file ? "tokens_file" : "inline");
        for (std::size_t i = 0; i < t->subscribe.size(); ++i) {
            body += i == 0 ? "" : ",";
            http::append_json_string(body, t->subscribe[i]);
        }
        body += "],\"publish\":[";
        for (std::size_t i = 0; i < t->publish.size(); ++i) {
            body += i == 0 ? "" : ",";
            http::append_json_string(body, t->publish[i]);
        }
        body += "]}";
    }
    body += "]}";
    return {200, std::move(body)};
}

http::response token_revoke(const server_access& server, const settings_cell& live, const std::string& name) {
    const auto in_force = server.tokens();
    const auto all = in_force ? in_force->all() : std::vector<std::shared_ptr<const auth::api_token>>{};
    const auto it = std::find_if(all.begin(), all.end(), [&name](const auto& t) { return t->name == name; });
    if (it == all.end()) {
        return error(404, fmt::format("no API token named '{}'", name));
    }
    const auto settings = live.get();
    if (!(*it)->from_file) {
        return error(
            409,
            fmt::format("token '{}' is an inline [http] tokens entry of the configuration: remove it there and reload",
                        name));
    }
    if ((*it)->admin && std::count_if(all.begin(), all.end(), [](const auto& t) { return t->admin; }) == 1) {
        return error(
            409,
            fmt::format(
                "token '{}' is the last admin token: issue another (vigil token FILE NAME --admin) and reload first",
                name));
    }
    try {
        if (!auth::token_file::remove_from_file(settings->http.tokens_file, name)) {
            return error(409, fmt::format("token '{}' is no longer in {}: reload to apply the file", name,
                                          settings->http.tokens_file));
        }
        server.reload_tokens();  // the file as it now is; dashboards using the token are closed (1008)
    } catch (const std::exception& e) {
        return error(500, fmt::format("revoking '{}' failed: {}", name, e.what()));
    }
    std::string body = "{\"revoked\":";
    http::append_json_string(body, name);
    body += '}';
    return {200, std::move(body)};
}

http::response route(const mqtt::broker& b, const settings_cell& live, const server_access& server,
                     std::string_view method, std::string_view target, std::string_view path, const http::caller& who) {
    if (who.token != nullptr && !who.token->admin) {
        return error(403, fmt::format("token '{}' has no admin right (issue one with `vigil token FILE NAME --admin`)",
                                      who.token->name));
    }
    if (!http::percent_decode(path)) {
        return error(400, "a bad %-escape (or an escaped NUL) in the path");
    }
    std::string why;
    const auto params = http::query_params(target, why);
    if (!params) {
        return error(400, why);
    }
    const auto limit = limit_of(*params);
    if (!limit) {
        return error(400, fmt::format("limit must be a number from 1 to {}", max_limit));
    }
    const std::string_view rest = path.substr(prefix.size());
    const bool get = method == "GET" || method == "HEAD";
    const bool del = method == "DELETE";
    if (rest == "clients") {
        return get ? later([&b, n = *limit] { return clients(b, n); }) : error(405, "use GET");
    }
    if (auto id = segment(rest, "sessions/")) {
        if (!get) {
            return error(405, "use GET");
        }
        return later([&b, id = std::move(*id)] {
            const auto found = b.find_session(id);
            return outcome(found.result, fmt::format("no session of client '{}'", id), [&found] {
                std::string body;
                append_client(body, found.session);
                return http::response{200, std::move(body)};
            });
        });
    }
    if (auto id = segment(rest, "clients/")) {
        if (!del) {
            return error(405, "use DELETE");
        }
        const auto d = params->find("discard_session");
        if (d != params->end() && d->second != "true" && d->second != "false") {
            return error(400, "discard_session is true or false");
        }
        const bool discard = d != params->end() && d->second == "true";
        return later([&b, id = std::move(*id), discard] {
            return outcome(b.disconnect_client(id, discard), fmt::format("no client or session '{}'", id),
                           [&id, discard] {
                               std::string body = "{\"client_id\":";
                               http::append_json_string(body, id);
                               body += fmt::format(",\"disconnected\":true,\"session_discarded\":{}}}", discard);
                               return http::response{200, std::move(body)};
                           });
        });
    }
    if (rest == "retained") {
        const auto t = params->find("topic");
        if (t == params->end()) {
            return error(400, "topic is required (a topic, or with GET a filter)");
        }
        if (get) {
            if (!topic::valid_filter(t->second) || !topic::valid_utf8(t->second)) {
                return error(400, "topic must be a valid topic or filter");
            }
            return later([&b, f = t->second, n = *limit] { return retained(b, f, n); });
        }
        if (!del) {
            return error(405, "use GET or DELETE");
        }
        if (!topic::valid_name(t->second) || !topic::valid_utf8(t->second) || t->second.starts_with('$')) {
            return error(400, "DELETE takes one topic (no wildcards, not $SYS)");
        }
        return later([&b, topic = t->second] {
            return outcome(b.clear_retained(topic), fmt::format("no retained message on '{}'", topic), [&topic] {
                std::string body = "{\"deleted\":";
                http::append_json_string(body, topic);
                body += '}';
                return http::response{200, std::move(body)};
            });
        });
    }
    if (rest == "tokens") {
        return get ? later([&server] { return tokens_list(server); }) : error(405, "use GET");
    }
    if (auto name = segment(rest, "tokens/")) {
        if (!del) {
            return error(405, "use DELETE");
        }
        return later([&server, &live, name = std::move(*name)] { return token_revoke(server, live, name); });
    }
    return error(404, fmt::format("no admin route for {}", path));
}

}  // namespace

http::response admin_request(const mqtt::broker& b, const settings_cell& live, const server_access& server,
                             std::string_view method, std::string_view target, std::string_view path,
                             const http::caller& who) {
    http::response r = route(b, live, server, method, target, path, who);
    // The audit line, once the answer is known (answered or refused).
    auto line = [what = fmt::format("{} {}", method, redacted(target)), by = who_is(who)](unsigned status) {
        log::info("admin: {} by {}: {}", what, by, status);
    };
    if (!r.later) {
        line(r.status);
        return r;
    }
    r.later = [work = std::move(r.later), line = std::move(line)](http::response& out) {
        work(out);
        line(out.status);
    };
    return r;
}

}  // namespace vigil::app
