// vigil: the executable. CLI, wiring, signals, ordered shutdown.
#include "api.hpp"
#include "archive_cli.hpp"
#include "control.hpp"
#include "db_cli.hpp"
#include "passwd.hpp"

#include <vigil/archive/archive.hpp>
#include <vigil/auth/acl.hpp>
#include <vigil/auth/password.hpp>
#include <vigil/console/console.hpp>
#include <vigil/auth/tokens.hpp>
#include <vigil/config/reload.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/metrics/sys_topics.hpp>
#include <vigil/probe/probe.hpp>
#include <vigil/service/notifier.hpp>
#include <vigil/core/log.hpp>
#include <vigil/mqtt/broker/broker.hpp>
#include <vigil/net/handover.hpp>
#include <vigil/net/tls.hpp>
#include <vigil/store/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pthread.h>
#include <sys/resource.h>

namespace {

constexpr std::string_view usage = R"(usage: vigil [--config FILE]
       vigil --check-config FILE
       vigil passwd [--stdin] [--iterations N] FILE USER    add or change a user
       vigil passwd -D FILE USER                            delete a user
       vigil db check (--config FILE | DATA_DIR)            verify the store offline
       vigil db backup (--config FILE | --data-dir DIR) DEST
                                                            back up the store and archive (also while running)
       vigil db restore (--config FILE | --data-dir DIR) SRC [--id N]
                                                            restore a backup into an empty data_dir
       vigil db backups SRC                                 list the backups in SRC
       vigil db purge SRC --keep N                          delete all but the N latest backups
       vigil archive check (--config FILE | DATA_DIR)       verify the history archive offline
       vigil archive export (--config FILE | --data-dir DIR) --topic F [--from T] [--to T] [--format ndjson|csv]
                                                            archived records to standard output
       vigil token FILE NAME [--subscribe F,..] [--publish F,..] [--admin]  issue an API token
       vigil token --list FILE | --revoke FILE NAME         list the tokens, or remove one
       vigil --version | --help

Runs the Vigil MQTT 3.1.1 broker. With no --config, it uses development defaults:
one MQTT listener on 127.0.0.1:1883, HTTP on 127.0.0.1:8080 (the operations console at /,
/healthz, /metrics, /api/v1/devices, /api/v1/history, /api/v1/admin),
one shard per core, the store in ./var.
SIGHUP reads FILE again: TLS files (a new CRL too), passwords, ACL, API tokens,
log_level and log_format take effect, what needs a restart is named in the log; SIGINT or SIGTERM stops gracefully.
)";

constexpr auto shutdown_grace = std::chrono::seconds{5};

/// A broker holds one descriptor per connection: raise the soft limit to the hard one.
void raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return;
    }
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            vigil::log::warn("cannot raise the open-file limit to {}", lim.rlim_max);
            return;
        }
    }
    vigil::log::info("open-file limit: {}", lim.rlim_cur);
}

/// The probe's history path: its message read back from the archive as GET /api/v1/history
/// would read it (the archive keeps the probe's topic whenever both are on).
std::optional<vigil::probe::history_check> probe_history(const vigil::mqtt::broker& b,
                                                         const vigil::config::settings& s) {
    if (s.archive.topics.empty()) {
        return std::nullopt;
    }
    vigil::probe::history_check h;
    h.timeout = s.archive.flush_interval + std::chrono::seconds{10};
    h.archived = [&b, topic = s.probe.topic](const std::string& payload) {
        const auto now =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        const vigil::archive::query q{topic, now - 60'000, now + 1'000, 16, true, std::nullopt};
        const auto page = b.history(q, [](std::string_view) { return true; });
        return page && std::any_of(page->records.begin(), page->records.end(),
                                   [&payload](const vigil::archive::record& r) { return r.payload == payload; });
    };
    return h;
}

/// One line with every counter, so a limit or a failure is never silent.
void log_stats(const vigil::mqtt::broker_stats& st) {
    vigil::log::info(
        "stats: connections open {}, accepted {}, refused {}; publishes in {}, deliveries {}; "
        "dropped QoS 0 (slow clients) {}; protocol errors {}; auth failures {}, busy {}; password checks hashed {}, "
        "dropped {}, waiting {}; "
        "denied connects {}, publishes {}, deliveries {}; "
        "publish-rate pauses {}; persistent sessions {} (expired {}), retained {}, last values {}; "
        "store {}: commits {} ({} fsynced), batches {}, writes {}, failures {}, commit avg {} us max {} us, backlog {} "
        "bytes",
        st.open_connections, st.connections_accepted, st.rejected_connections, st.publishes_in, st.deliveries,
        st.dropped_qos0_backpressure, st.protocol_errors, st.auth_failures, st.auth_busy, st.auth_hashed,
        st.auth_dropped, st.auth_queued, st.denied_connects, st.denied_publishes, st.denied_deliveries,
        st.publish_throttled, st.sessions.persistent_online + st.sessions.persistent_offline, st.sessions_expired,
        st.retained, st.last_values, st.store_healthy ? "ok" : "FAILING", st.store.commits, st.store.syncs,
        st.store.batches, st.store.ops, st.store.failures,
        st.store.commits == 0 ? 0 : static_cast<std::uint64_t>(st.store.commit_seconds.sum() * 1e6) / st.store.commits,
        st.store.commit_us_max, st.store.backlog_bytes);
    if (st.archive_on) {
        const auto& a = st.archive;
        vigil::log::info(
            "stats: archive {}: records appended {}, written {}, dropped {}; pending {} bytes; flushes {}, lag max {} "
            "ms; "
            "days dropped {}, {} bytes on disk",
            a.healthy ? "ok" : "FAILING", a.appended, a.written, a.dropped, a.pending_bytes, a.flushes, a.lag_ms_max,
            a.partitions_dropped, a.bytes_on_disk);
    }
}

/// SIGHUP: the configuration file read again (when there is one). What changed and cannot
/// change live is named and left as it was; a file that does not load changes nothing (false).
bool reload_settings(const std::optional<std::string>& file, vigil::app::settings_cell& live) {
    if (!file) {
        return true;  // development defaults: the files they name are read again
    }
    try {
        auto plan = vigil::config::plan_reload(*live.get(), vigil::config::load_settings(*file));
        if (!plan.needs_restart.empty()) {
            vigil::log::warn(
                "reload: {}: {} changed; this needs a restart, until then the previous values stay in force", *file,
                fmt::join(plan.needs_restart, ", "));
        }
        vigil::log::set_level(plan.next.log_level);
        vigil::log::set_format(plan.next.log_format);
        live.set(std::move(plan.next));
        return true;
    } catch (const std::exception& e) {
        vigil::log::error("reload: {}; nothing changed", e.what());
        return false;
    }
}

/// SIGHUP for the HTTP side: API tokens and HTTPS certificates. Whatever fails to load leaves
/// what is in force and says why.
void reload_http(vigil::http::server& web, const vigil::app::server_access& server, const vigil::config::settings& s) {
    try {
        server.reload_tokens();
        const auto tokens = web.tokens();
        vigil::log::info("reload: API tokens: {}", tokens ? tokens->size() : 0);
    } catch (const std::exception& e) {
        vigil::log::error("reload: {}; keeping the previous API tokens", e.what());
    }
    try {
        web.reload_tls(s.http_listeners);
    } catch (const std::exception& e) {
        vigil::log::error("reload: {}; keeping the previous HTTPS certificates", e.what());
    }
}

int run(const vigil::config::settings& s, const std::optional<std::string>& file) {
    vigil::app::settings_cell live{s};
    vigil::log::set_level(s.log_level);
    vigil::log::set_format(s.log_format);
    // Block the stop signals in every thread; the main thread waits for them below.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    vigil::mqtt::broker b{s};
    vigil::http::server::access access;
    access.allowed_origins = s.http.allowed_origins;
    access.gate = &b.gate();
    access.tokens = vigil::auth::token_file::load(s.http);
    if (s.ui.enabled) {
        access.console = std::make_shared<const vigil::console::site>(s);
    }
    if (!access.tokens) {
        vigil::log::info(
            "HTTP API and /ws are open to anyone who can reach them (no [http] tokens_file or tokens): loopback "
            "listeners only");
    } else {
        vigil::log::info("API tokens: {} (tokens_file \"{}\", {} inline)", access.tokens->size(), s.http.tokens_file,
                         s.http.tokens.size());
    }
    vigil::http::upgrades up;
    up.push = &b.push();
    up.mqtt = [&b](vigil::net::socket_handover h) { b.adopt_websocket(std::move(h)); };
    std::unique_ptr<vigil::probe::prober> probe;
    if (s.probe.interval.count() > 0 && !s.listeners.empty()) {
        probe = std::make_unique<vigil::probe::prober>(s.probe);
    }
    vigil::app::server_access server;  // filled in once the server exists
    vigil::http::server web{b.shards(), s.http_listeners, vigil::app::make_api(b, s, live, probe.get(), server),
                            std::move(up), std::move(access)};
    server.tokens = [&web] { return web.tokens(); };
    vigil::mutex tokens_mu;  // one load-and-apply at a time: SIGHUP and the admin API's revocations
    server.reload_tokens = [&web, &live, &tokens_mu] {
        const vigil::lock_guard lock{tokens_mu};
        web.set_tokens(vigil::auth::token_file::load(live.get()->http));
    };
    server.counters = [&web] { return web.counters(); };
    // `vigil db backup` asks this process through data_dir/control.sock (there before the
    // listeners: whoever sees vigil serve can back it up).
    std::optional<vigil::app::control_socket> control;
    try {
        control.emplace(vigil::app::control_path(s.data_dir),
                        [&b, &s](std::string_view request, std::string_view peer) {
                            return vigil::app::serve_control(b, s.data_dir, request, peer);
                        });
    } catch (const std::exception& e) {
        vigil::log::warn("{}: `vigil db backup` can back up only a stopped vigil", e.what());
    }
    web.start();
    b.start();
    if (probe) {
        // The first MQTT listener (TLS when that is what devices use) and the first HTTP
        // listener's /ws, reached like any client.
        const auto& m = b.listeners().front();
        std::optional<vigil::probe::endpoint> ws;
        if (!web.listeners().empty()) {
            const auto& h = web.listeners().front();
            ws = vigil::probe::reach(h.address, h.port, h.tls);
        }
        probe->start(vigil::probe::reach(m.address, m.port, m.tls), ws, probe_history(b, s));
        vigil::log::info("probe: every {} ms, MQTT {}:{}{}", s.probe.interval.count(), m.address, m.port,
                         ws ? fmt::format(", /ws {}:{}", ws->host, ws->port) : std::string{});
    }
    for (const auto& l : s.listeners) {
        if (!l.loopback() && l.allow_anonymous) {
            vigil::log::warn(
                "listener {}:{} is reachable beyond this host and allows anonymous clients (allow_anonymous = true)",
                l.bind, l.port);
        }
    }
    vigil::service::notifier systemd;
    systemd.ready(fmt::format("serving {} MQTT and {} HTTP listener(s)", b.listeners().size(), web.listeners().size()));
    int sig = 0;
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    auto next_stats = started + s.stats_interval;
    // The watchdog (WatchdogSec in the unit): pinged at half its period while every shard's
    // heartbeat ran within that half.
    const auto watchdog_every = systemd.watchdog_interval();
    const auto stall_after =
        std::max(watchdog_every.value_or(std::chrono::milliseconds{0}), std::chrono::milliseconds{1000});
    auto next_watchdog = watchdog_every ? started : clock::time_point::max();
    // $SYS: published at once (the version is there from the start), then every sys_interval.
    vigil::metrics::sys_topics sys{VIGIL_VERSION};
    auto next_sys = s.sys_interval.count() > 0 ? started : clock::time_point::max();
    auto last_sys = started;
    for (;;) {
        const auto wait =
            std::max(std::min({next_stats, next_sys, next_watchdog}) - clock::now(), clock::duration::zero());
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait);
        const timespec ts{static_cast<time_t>(secs.count()),
                          static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(wait - secs).count())};
        sig = sigtimedwait(&set, nullptr, &ts);
        if (sig < 0) {  // EAGAIN: an interval passed
            const auto now = clock::now();
            if (now >= next_watchdog) {
                systemd.watchdog(b.stalled_shards(stall_after));
                next_watchdog = now + *watchdog_every;
            }
            if (now >= next_stats) {
                log_stats(b.stats());
                next_stats += s.stats_interval;
            }
            if (now >= next_sys) {
                const std::chrono::duration<double> uptime = now - started;
                const std::chrono::duration<double> elapsed = now - last_sys;
                b.publish_system(sys.update(b.stats(), uptime.count(), elapsed.count()));
                last_sys = now;
                next_sys = now + s.sys_interval;
            }
            continue;
        }
        if (sig != SIGHUP) {
            break;
        }
        vigil::log::info("received SIGHUP, reloading");
        if (!reload_settings(file, live)) {
            continue;
        }
        const auto now = live.get();
        b.reload(*now);
        reload_http(web, server, *now);
    }
    vigil::log::info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    systemd.stopping();
    control.reset();
    if (probe) {
        probe->stop();  // before the listeners close: no round fails on the way down
    }
    web.stop();
    b.stop(shutdown_grace);
    vigil::log::info("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    try {
        if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
            std::fputs(usage.data(), stdout);
            return 0;
        }
        if (args.size() == 1 && args[0] == "--version") {
            std::printf("vigil %s\n", VIGIL_VERSION);
            return 0;
        }
        if (!args.empty() && args[0] == "passwd") {
            return vigil::app::passwd_main({args.begin() + 1, args.end()});
        }
        if (!args.empty() && args[0] == "token") {
            return vigil::app::token_main({args.begin() + 1, args.end()});
        }
        if (args.size() >= 2 && args[0] == "db" &&
            (args[1] == "backup" || args[1] == "restore" || args[1] == "backups" || args[1] == "purge")) {
            return vigil::app::db_backup_main({args.begin() + 1, args.end()});
        }
        if (args.size() >= 2 && args[0] == "archive" && args[1] == "export") {
            return vigil::app::archive_export_main({args.begin() + 2, args.end()});
        }
        if (args.size() >= 2 && (args[0] == "db" || args[0] == "archive") && args[1] == "check") {
            // DATA_DIR, or the data_dir of --config FILE.
            std::filesystem::path dir;
            if (args.size() == 4 && args[2] == "--config") {
                dir = vigil::config::load_settings(std::string{args[3]}).data_dir;
            } else if (args.size() == 3) {
                dir = std::string{args[2]};
            } else {
                std::fputs(usage.data(), stderr);
                return 2;
            }
            const auto report = args[0] == "db" ? vigil::store::check(dir) : vigil::archive::check(dir / "archive");
            std::fputs(report.text.c_str(), report.ok ? stdout : stderr);
            return report.ok ? 0 : 1;
        }
        if (args.size() == 2 && args[0] == "--check-config") {
            const auto s = vigil::config::load_settings(std::string{args[1]});
            // The files a configuration names must parse too.
            if (!s.auth.password_file.empty()) {
                (void)vigil::auth::password_file::load(s.auth.password_file);
            }
            if (!s.auth.acl_file.empty()) {
                (void)vigil::auth::acl::load(s.auth.acl_file);
            }
            (void)vigil::auth::token_file::load(s.http);
            for (const auto& l : s.listeners) {
                if (l.tls) {
                    (void)vigil::net::tls_context::make(*l.tls);
                }
            }
            for (const auto& l : s.http_listeners) {
                if (l.tls) {
                    (void)vigil::net::tls_context::make(*l.tls);
                }
            }
            std::printf("%s: configuration is valid (%zu listener(s), %u worker(s))\n", argv[2], s.listeners.size(),
                        s.resolved_workers());
            return 0;
        }
        if (args.size() == 2 && args[0] == "--config") {
            return run(vigil::config::load_settings(std::string{args[1]}), std::string{args[1]});
        }
        if (args.empty()) {
            vigil::log::info("no --config given: development defaults, loopback only");
            return run(vigil::config::default_settings(), std::nullopt);
        }
        std::fputs(usage.data(), stderr);
        return 2;
    } catch (const vigil::archive::archive_error& e) {
        vigil::log::error("{}", e.what());
        return 1;
    } catch (const vigil::store::store_error& e) {
        vigil::log::error("store error: {}", e.what());
        return 1;
    } catch (const vigil::config::config_error& e) {
        vigil::log::error("configuration error: {}", e.what());
        return 1;
    } catch (const std::exception& e) {
        vigil::log::error("fatal: {}", e.what());
        return 1;
    }
}
