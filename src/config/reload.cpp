#include <vigil/config/reload.hpp>

#include <cstddef>

namespace vigil::config {
namespace {

/// Listeners at the same addresses, each TLS or plain as before: only their TLS files and
/// options may change live.
template <class Listener>
bool same_sockets(const std::vector<Listener>& a, const std::vector<Listener>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        Listener x = a[i];
        x.tls = b[i].tls;
        if (!(x == b[i]) || a[i].tls.has_value() != b[i].tls.has_value()) {
            return false;
        }
    }
    return true;
}

template <class Listener>
void take_tls(std::vector<Listener>& into, const std::vector<Listener>& from) {
    for (std::size_t i = 0; i < into.size(); ++i) {
        into[i].tls = from[i].tls;
    }
}

}  // namespace

reload_plan plan_reload(const settings& running, const settings& fresh) {
    reload_plan p{running, {}};
    settings& n = p.next;
    auto& restart = p.needs_restart;
    n.log_level = fresh.log_level;
    n.log_format = fresh.log_format;
    if (same_sockets(running.listeners, fresh.listeners)) {
        take_tls(n.listeners, fresh.listeners);
    } else {
        restart.emplace_back("listener");
    }
    if (same_sockets(running.http_listeners, fresh.http_listeners)) {
        take_tls(n.http_listeners, fresh.http_listeners);
    } else {
        restart.emplace_back("http.listener");
    }
    n.http.tokens_file = fresh.http.tokens_file;
    n.http.tokens = fresh.http.tokens;
    if (!(n.http == fresh.http)) {
        restart.emplace_back("http.allowed_origins");
    }
    if (running.auth.password_file.empty() != fresh.auth.password_file.empty()) {
        restart.emplace_back("auth.password_file");  // the password checks start or stop
    } else {
        n.auth.password_file = fresh.auth.password_file;
    }
    if (!running.auth.acl_file.empty() && fresh.auth.acl_file.empty()) {
        restart.emplace_back("auth.acl_file");
    } else {
        n.auth.acl_file = fresh.auth.acl_file;
    }
    const auto section = [&](bool same, const char* name) {
        if (!same) {
            restart.emplace_back(name);
        }
    };
    auth_settings others = fresh.auth;  // hash_threads, client_id_must_match
    others.password_file = n.auth.password_file;
    others.acl_file = n.auth.acl_file;
    section(others == n.auth, "auth");
    section(running.workers == fresh.workers, "workers");
    section(running.data_dir == fresh.data_dir, "data_dir");
    section(running.durability == fresh.durability, "durability");
    section(running.stats_interval == fresh.stats_interval, "stats_interval");
    section(running.sys_interval == fresh.sys_interval, "sys_interval");
    section(running.state == fresh.state, "state");
    section(running.archive == fresh.archive, "archive");
    section(running.probe == fresh.probe, "probe");
    section(running.ui == fresh.ui, "ui");
    section(running.limits == fresh.limits, "limits");
    return p;
}

}  // namespace vigil::config
