#include <vigil/config/settings.hpp>

#include "context.hpp"

#include <vigil/core/topic.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

namespace vigil::config {
namespace {

/// A boolean key, or `fallback` when absent.
bool parse_flag(const context& cx, const toml::node* v, std::string_view key, bool fallback) {
    if (v == nullptr) {
        return fallback;
    }
    const auto* b = v->as_boolean();
    if (b == nullptr) {
        cx.fail(*v, fmt::format("'{}' must be true or false", key));
    }
    return b->get();
}

/// `tls.*` of a listener (`where` names its table for messages).
tls_listener_settings parse_tls(const context& cx, const toml::node& v, std::string_view where) {
    const auto* tt = v.as_table();
    if (tt == nullptr) {
        cx.fail(v, fmt::format("'{}.tls' must be a table (write tls.cert = ..., tls.key = ...)", where));
    }
    cx.only(*tt,
            {"cert", "key", "ca", "crl", "require_certificate", "use_identity_as_username", "identity", "ciphers",
             "ciphersuites"},
            fmt::format("{}.tls.", where));
    tls_listener_settings tls;
    auto str = [&](const char* k, std::string& out) {
        if (const auto* x = tt->get(k)) {
            out = cx.string(*x, fmt::format("{}.tls.{}", where, k));
        }
    };
    str("cert", tls.cert);
    str("key", tls.key);
    str("ca", tls.ca);
    str("crl", tls.crl);
    str("ciphers", tls.ciphers);
    str("ciphersuites", tls.ciphersuites);
    str("identity", tls.identity);
    if (tls.identity != "cn" && tls.identity != "san-dns" && tls.identity != "san-email" && tls.identity != "san-uri") {
        cx.fail(*tt->get("identity"),
                fmt::format("'{}.tls.identity' must be \"cn\", \"san-dns\", \"san-email\" or \"san-uri\"", where));
    }
    tls.require_certificate =
        parse_flag(cx, tt->get("require_certificate"), fmt::format("{}.tls.require_certificate", where), false);
    tls.use_identity_as_username = parse_flag(cx, tt->get("use_identity_as_username"),
                                              fmt::format("{}.tls.use_identity_as_username", where), false);
    if (tls.cert.empty() || tls.key.empty()) {
        cx.fail(v, "a TLS listener needs tls.cert and tls.key");
    }
    if (tls.require_certificate && tls.ca.empty()) {
        cx.fail(v, "tls.require_certificate needs tls.ca, the CA that signs client certificates");
    }
    if (tls.use_identity_as_username && !tls.require_certificate) {
        cx.fail(v, "tls.use_identity_as_username needs tls.require_certificate = true");
    }
    return tls;
}

listener_settings parse_listener(const context& cx, const toml::node& n) {
    const auto* t = n.as_table();
    if (t == nullptr) {
        cx.fail(n, "each [[listener]] must be a table");
    }
    cx.only(*t, {"bind", "port", "backlog", "allow_anonymous", "max_connection_rate", "tls"}, "listener.");
    listener_settings l;
    if (const auto* v = t->get("bind")) {
        l.bind = cx.string(*v, "listener.bind");
        unsigned char addr[sizeof(in6_addr)];
        if (inet_pton(AF_INET, l.bind.c_str(), addr) != 1 && inet_pton(AF_INET6, l.bind.c_str(), addr) != 1) {
            cx.fail(*v, fmt::format("'listener.bind' must be an IP address, got \"{}\"", l.bind));
        }
    }
    if (const auto* v = t->get("port")) {
        l.port = cx.integer<std::uint16_t>(*v, "listener.port", 0, 65535);
    }
    if (const auto* v = t->get("backlog")) {
        l.backlog = cx.integer<int>(*v, "listener.backlog", 1, 65535);
    }
    if (const auto* v = t->get("max_connection_rate")) {
        l.max_connection_rate = cx.integer<unsigned>(*v, "listener.max_connection_rate", 0, 10'000'000);
    }
    if (const auto* v = t->get("tls")) {
        l.tls = parse_tls(cx, *v, "listener");
    }
    l.allow_anonymous = parse_flag(cx, t->get("allow_anonymous"), "listener.allow_anonymous", l.loopback());
    return l;
}

}  // namespace

bool listener_settings::loopback() const noexcept { return bind == "::1" || bind.rfind("127.", 0) == 0; }

unsigned settings::resolved_workers() const noexcept {
    if (workers != 0) {
        return workers;
    }
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : std::min(n, max_workers);
}

namespace {

/// The probe's messages (one a round) are archived too: it times publish -> history.
void archive_probe_topic(settings& s) {
    const auto& kept = s.archive.topics;
    if (!kept.empty() && s.probe.interval.count() > 0 &&
        std::none_of(kept.begin(), kept.end(),
                     [&s](const std::string& f) { return topic::matches(f, s.probe.topic); })) {
        s.archive.topics.push_back(s.probe.topic);
    }
}

}  // namespace

settings default_settings() {
    settings s;
    s.listeners.push_back({});
    s.http_listeners.push_back({});
    archive_probe_topic(s);
    return s;
}

settings parse_settings(std::string_view toml_text, std::string_view source) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
        throw config_error(fmt::format("{}:{}: {}", source, e.source().begin.line, e.description()));
    }
    const context cx{source};
    cx.only(root,
            {"workers", "log_level", "log_format", "stats_interval", "sys_interval", "data_dir", "durability",
             "listener", "http", "limits", "auth", "state", "archive", "probe", "ui"},
            "");
    settings s;
    if (const auto* v = root.get("data_dir")) {
        s.data_dir = cx.string(*v, "data_dir");
        if (s.data_dir.empty()) {
            cx.fail(*v, "'data_dir' must name a directory");
        }
    }
    if (const auto* v = root.get("durability")) {
        const std::string d = cx.string(*v, "durability");
        if (d == "durable") {
            s.durability = durability_mode::durable;
        } else if (d == "fast") {
            s.durability = durability_mode::fast;
        } else {
            cx.fail(*v, fmt::format("'durability' must be \"durable\" or \"fast\", got \"{}\"", d));
        }
    }
    if (const auto* v = root.get("state")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'state' must be a table");
        }
        cx.only(*t, {"topics"}, "state.");
        if (const auto* topics = t->get("topics")) {
            s.state.topics = cx.strings(*topics, "state.topics", "topic filters");
            for (std::size_t i = 0; i < s.state.topics.size(); ++i) {
                if (!topic::valid_filter(s.state.topics[i])) {
                    cx.fail(*topics->as_array()->get(i),
                            fmt::format("'state.topics': \"{}\" is not a valid topic filter", s.state.topics[i]));
                }
            }
        }
    }
    if (const auto* v = root.get("probe")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'probe' must be a table");
        }
        parse_probe(cx, *t, s.probe);
    }
    if (const auto* v = root.get("ui")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'ui' must be a table");
        }
        parse_ui(cx, *t, s.ui);
    }
    if (const auto* v = root.get("archive")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'archive' must be a table");
        }
        parse_archive(cx, *t, s.archive);
    }
    archive_probe_topic(s);
    if (const auto* v = root.get("stats_interval")) {
        s.stats_interval = cx.duration(*v, "stats_interval");
    }
    if (const auto* v = root.get("sys_interval")) {
        s.sys_interval = cx.interval_or_off(*v, "sys_interval");
    }
    if (const auto* v = root.get("workers")) {
        s.workers = cx.integer<unsigned>(*v, "workers", 0, max_workers);
    }
    if (const auto* v = root.get("log_format")) {
        if (!log::parse_format(cx.string(*v, "log_format"), s.log_format)) {
            cx.fail(*v, "'log_format' must be \"text\" or \"json\"");
        }
    }
    if (const auto* v = root.get("log_level")) {
        if (!log::parse_level(cx.string(*v, "log_level"), s.log_level)) {
            cx.fail(*v, "'log_level' must be one of \"debug\", \"info\", \"warn\", \"error\"");
        }
    }
    if (const auto* v = root.get("listener")) {
        const auto* arr = v->as_array();
        if (arr == nullptr) {
            cx.fail(*v, "'listener' must be an array of tables: write [[listener]]");
        }
        std::set<std::pair<std::string, std::uint16_t>> seen;
        for (const auto& item : *arr) {
            listener_settings l = parse_listener(cx, item);
            if (l.port != 0 && !seen.insert({l.bind, l.port}).second) {
                cx.fail(item, fmt::format("listener {}:{} is declared twice", l.bind, l.port));
            }
            s.listeners.push_back(std::move(l));
        }
    } else {
        s.listeners.push_back({});
    }
    if (const auto* v = root.get("http")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'http' must be a table");
        }
        cx.only(*t, {"listener", "tokens_file", "tokens", "allowed_origins"}, "http.");
        if (const auto* f = t->get("tokens_file")) {
            s.http.tokens_file = cx.string(*f, "http.tokens_file");
        }
        if (const auto* o = t->get("tokens")) {
            s.http.tokens = cx.strings(*o, "http.tokens",
                                       "token lines (\"NAME sha256:<hex> sub=... pub=...\", made by `vigil token`)");
        }
        if (const auto* o = t->get("allowed_origins")) {
            s.http.allowed_origins =
                cx.strings(*o, "http.allowed_origins", "origins such as \"https://dispatch.example\"");
        }
        if (const auto* l = t->get("listener")) {
            const auto* arr = l->as_array();
            if (arr == nullptr) {
                cx.fail(*l, "'http.listener' must be an array of tables: write [[http.listener]]");
            }
            for (const auto& item : *arr) {
                const auto* lt = item.as_table();
                if (lt == nullptr) {
                    cx.fail(item, "each [[http.listener]] must be a table");
                }
                cx.only(*lt, {"bind", "port", "allow_anonymous", "max_connection_rate", "tls"}, "http.listener.");
                http_listener_settings h;
                if (const auto* b = lt->get("bind")) {
                    h.bind = cx.string(*b, "http.listener.bind");
                    unsigned char addr[sizeof(in6_addr)];
                    if (inet_pton(AF_INET, h.bind.c_str(), addr) != 1 &&
                        inet_pton(AF_INET6, h.bind.c_str(), addr) != 1) {
                        cx.fail(*b, fmt::format("'http.listener.bind' must be an IP address, got \"{}\"", h.bind));
                    }
                }
                if (const auto* p = lt->get("port")) {
                    h.port = cx.integer<std::uint16_t>(*p, "http.listener.port", 0, 65535);
                }
                if (const auto* r = lt->get("max_connection_rate")) {
                    h.max_connection_rate =
                        cx.integer<unsigned>(*r, "http.listener.max_connection_rate", 0, 10'000'000);
                }
                if (const auto* tv = lt->get("tls")) {
                    h.tls = parse_tls(cx, *tv, "http.listener");
                }
                const bool loopback = h.bind == "::1" || h.bind.rfind("127.", 0) == 0;
                h.allow_anonymous =
                    parse_flag(cx, lt->get("allow_anonymous"), "http.listener.allow_anonymous", loopback);
                if (!loopback && s.http.tokens_file.empty() && s.http.tokens.empty()) {
                    // Secure by default: the API shows every device's position.
                    cx.fail(item,
                            fmt::format("http listener {}:{} is reachable beyond this host: set [http] tokens_file or "
                                        "tokens (API tokens, see `vigil token`), or bind it to 127.0.0.1 or ::1",
                                        h.bind, h.port));
                }
                s.http_listeners.push_back(std::move(h));
            }
        }
    } else {
        s.http_listeners.push_back({});
    }
    if (const auto* v = root.get("auth")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'auth' must be a table");
        }
        cx.only(*t, {"password_file", "acl_file", "hash_threads", "client_id_must_match"}, "auth.");
        s.auth.client_id_must_match =
            parse_flag(cx, t->get("client_id_must_match"), "auth.client_id_must_match", false);
        if (const auto* f = t->get("hash_threads")) {
            s.auth.hash_threads = cx.integer<unsigned>(*f, "auth.hash_threads", 0, 64);
        }
        if (const auto* f = t->get("password_file")) {
            s.auth.password_file = cx.string(*f, "auth.password_file");
        }
        if (const auto* f = t->get("acl_file")) {
            s.auth.acl_file = cx.string(*f, "auth.acl_file");
        }
    }
    if (const auto* arr = root.get("listener")) {
        // Secure by default: a listener beyond loopback needs a way to authenticate.
        std::size_t i = 0;
        for (const auto& item : *arr->as_array()) {
            const auto& l = s.listeners[i++];
            const bool cert_identity = l.tls && l.tls->use_identity_as_username;
            if (!l.loopback() && !l.allow_anonymous && s.auth.password_file.empty() && !cert_identity) {
                cx.fail(item,
                        fmt::format("listener {}:{} is reachable beyond this host and allows no anonymous clients: set "
                                    "[auth] password_file (or tls.use_identity_as_username), or allow_anonymous = true",
                                    l.bind, l.port));
            }
        }
    }
    if (const auto* v = root.get("limits")) {
        const auto* t = v->as_table();
        if (t == nullptr) {
            cx.fail(*v, "'limits' must be a table");
        }
        parse_limits(cx, *t, s.limits);
    }
    return s;
}

std::string read_text_file(const std::filesystem::path& path, std::string_view what) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw config_error(fmt::format("{}: is a directory, not a {}", path.string(), what));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw config_error(fmt::format("{}: cannot open {}", path.string(), what));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

settings load_settings(const std::filesystem::path& file) {
    return parse_settings(read_text_file(file, "configuration file"), file.string());
}

bool parse_duration(std::string_view text, std::chrono::milliseconds& out) noexcept {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end == text.data() || n < 0) {
        return false;
    }
    const std::string_view unit{end, static_cast<std::size_t>(text.data() + text.size() - end)};
    std::int64_t mult = 0;
    if (unit == "ms") {
        mult = 1;
    } else if (unit == "s") {
        mult = 1000;
    } else if (unit == "m") {
        mult = 60'000;
    } else if (unit == "h") {
        mult = 3'600'000;
    } else if (unit == "d") {
        mult = 86'400'000;
    } else {
        return false;
    }
    if (n > std::numeric_limits<std::int64_t>::max() / mult) {
        return false;
    }
    out = std::chrono::milliseconds{n * mult};
    return true;
}

}  // namespace vigil::config
