// The fleet: connecting devices, subscribers and dashboards at setup, and connect storms.
#include "runner_impl.hpp"

#include <vigil/core/sync.hpp>

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace vigil::bench::detail {
namespace {

constexpr unsigned setup_concurrency = 256;               // connects in flight while the fleet starts
constexpr auto storm_timeout = std::chrono::seconds{60};  // connects unanswered by then fail

const std::array<const char*, streams> topic_suffix{"location", "status", "events"};

std::string device_name(std::size_t i) {
    char b[32];
    std::snprintf(b, sizeof b, "dev-%05zu", i);
    return b;
}

}  // namespace

runner::runner(const scenario& sc, const target& tg)
    : sc_(sc), tg_(tg), tls_ctx_(asio::ssl::context::tls_client), logins_(tg.production) {
    if (tg.production.ca.empty()) {
        tls_ctx_.set_verify_mode(asio::ssl::verify_none);  // measured, not trusted: the report says so
    } else {
        boost::system::error_code ec;
        tls_ctx_.load_verify_file(tg.production.ca, ec);
        if (ec) {
            throw std::runtime_error("--ca " + tg.production.ca + ": " + ec.message());
        }
        tls_ctx_.set_verify_mode(asio::ssl::verify_peer);
    }
    mqtt_ep_ = {asio::ip::make_address(tg.host), tg.port};
    http_ep_ = {asio::ip::make_address(tg.host), tg.http_port};
    devices_.resize(sc.devices);
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        for (std::size_t k = 0; k < streams; ++k) {
            devices_[i].topics[k] = "devices/" + device_name(i) + "/" + topic_suffix[k];
        }
        devices_[i].who = logins_.make("bench-" + device_name(i));
    }
    rx_thread_ = std::thread([this] { rx_ioc_.run(); });
}

runner::~runner() {
    on_rx([this] {
        for (auto& p : subs_) {
            p->drop();
        }
        for (auto& d : dashboards_) {
            d->close();
        }
    });
    rx_guard_.reset();
    rx_ioc_.stop();
    rx_thread_.join();
}

std::shared_ptr<peer> runner::make_device_peer(std::size_t i) {
    std::optional<peer::will_msg> will;
    if (sc_.will) {
        will = peer::will_msg{"devices/" + device_name(i) + "/status", "offline"};
    }
    const std::string id = "bench-" + device_name(i);
    return std::make_shared<peer>(ioc_, mqtt_ep_, tls_ctx_, sc_.tls, id, std::move(will), nullptr, devices_[i].who,
                                  server_name());
}

std::string runner::server_name() const {
    if (tg_.production.ca.empty()) {
        return {};  // nothing is verified
    }
    return tg_.production.server_name.empty() ? tg_.host : tg_.production.server_name;
}

void runner::note_failure(std::string why) {
    const lock_guard lock{error_mu_};
    if (first_error_.empty()) {
        first_error_ = std::move(why);
    }
}

std::vector<std::string> runner::dashboard_filters(std::size_t j) const {
    std::vector<std::string> f;
    if (sc_.watch == 0) {
        for (const auto& s : sc_.dashboard_streams) {
            f.push_back("devices/+/" + s);
        }
        return f;
    }
    for (unsigned k = 0; k < sc_.watch; ++k) {
        const std::string id = device_name((j * sc_.watch + k) % sc_.devices);
        if (sc_.dashboard_streams.size() == streams) {
            f.push_back("devices/" + id + "/+");
        } else {
            for (const auto& s : sc_.dashboard_streams) {
                f.push_back("devices/" + id + "/" + s);
            }
        }
    }
    return f;
}

storm_record runner::setup() {
    storm_record rec;
    rec.label = "setup";
    const auto t0 = clock::now();
    // Receivers connect on the receiving thread; their callbacks report through these.
    std::atomic<std::size_t> rx_pending{0};
    std::atomic<std::size_t> rx_failed{0};
    mutex rx_mu;
    std::vector<std::uint32_t> rx_connect_us;  // guarded by rx_mu (a local: the analysis cannot check it)
    auto connected = [&](bool ok, std::uint32_t us) {
        if (ok) {
            const lock_guard lock{rx_mu};
            rx_connect_us.push_back(us);
        } else {
            ++rx_failed;
        }
    };
    for (unsigned i = 0; i < sc_.subscribers; ++i) {
        std::vector<std::string> filters;
        for (const auto& st : sc_.subscriber_streams) {
            filters.push_back("devices/+/" + st);
        }
        ++rx_pending;
        on_rx([&, i, filters] {
            sub_rcpt_.push_back(std::make_unique<recipient>(sc_.devices));
            const std::string id = "bench-sub-" + std::to_string(i);
            auto p = std::make_shared<peer>(rx_ioc_, mqtt_ep_, tls_ctx_, sc_.tls, id, std::nullopt,
                                            sub_rcpt_.back().get(), logins_.make(id), server_name());
            p->connect([&, p, filters](bool ok, std::uint32_t us) {
                connected(ok, us);
                if (!ok) {
                    note_failure("subscriber " + p->id() + ": " + p->error());
                    --rx_pending;
                    return;
                }
                p->subscribe(filters, sc_.subscriber_qos, [&rx_pending] { --rx_pending; });
            });
            subs_.push_back(p);
        });
    }
    for (unsigned j = 0; j < sc_.dashboards; ++j) {
        ++rx_pending;
        on_rx([&, j] {
            dash_rcpt_.push_back(std::make_unique<recipient>(sc_.devices));
            auto d = std::make_shared<dashboard>(rx_ioc_, http_ep_, dash_rcpt_.back().get(), tg_.production.token);
            d->start(dashboard_filters(j), [&, d](bool ok, std::uint32_t us) {
                connected(ok, us);
                if (!ok) {
                    note_failure("dashboard: " + d->error());
                }
                --rx_pending;
            });
            dashboards_.push_back(d);
        });
        run_until([&] { return rx_pending < setup_concurrency; });
    }
    run_until([&] { return rx_pending == 0 || clock::now() > t0 + storm_timeout; });
    std::size_t pending = 0;
    std::size_t failed = 0;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        devices_[i].conn = make_device_peer(i);
        ++pending;
        devices_[i].conn->connect([&, p = devices_[i].conn.get()](bool ok, std::uint32_t us) {
            --pending;
            if (ok) {
                rec.connect_us.push_back(us);
            } else {
                ++failed;
                note_failure("device " + p->id() + ": " + p->error());
            }
        });
        run_until([&] { return pending < setup_concurrency; });
    }
    run_until([&] { return pending == 0 || clock::now() > t0 + storm_timeout; });
    give_up(pending, failed);
    on_rx([&] {
        if (rx_pending != 0) {
            give_up_receivers();
        }
    });
    failed += rx_failed + rx_pending;
    rec.connect_us.insert(rec.connect_us.end(), rx_connect_us.begin(), rx_connect_us.end());
    rec.clients = static_cast<unsigned>(sc_.subscribers + sc_.dashboards + sc_.devices);
    rec.failed = static_cast<unsigned>(failed);
    rec.all_connected_s = std::chrono::duration<double>(clock::now() - t0).count();
    if (failed > 0) {
        const lock_guard lock{error_mu_};
        throw std::runtime_error(
            std::to_string(failed) + " of " + std::to_string(rec.clients) + " clients could not connect" +
            (first_error_.empty() ? std::string{" (is the broker running, with /ws for dashboards?)"}
                                  : "; the first: " + first_error_));
    }
    return rec;
}

storm_record runner::connect_storm(const std::string& label, unsigned jitter_ms) {
    storm_record rec;
    rec.label = label;
    rec.clients = sc_.devices;
    rec.jitter_ms = jitter_ms;
    std::mt19937 rng(42);
    std::uniform_int_distribution<unsigned> when(0, jitter_ms);
    std::size_t pending = devices_.size();
    std::size_t failed = 0;
    std::vector<std::unique_ptr<asio::steady_timer>> timers;
    const auto t0 = clock::now();
    auto last = t0;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        devices_[i].conn = make_device_peer(i);
        auto go = [&, i] {
            devices_[i].conn->connect([&](bool ok, std::uint32_t us) {
                --pending;
                last = clock::now();
                ok ? rec.connect_us.push_back(us) : static_cast<void>(++failed);
            });
        };
        if (jitter_ms == 0) {
            go();
        } else {
            timers.push_back(std::make_unique<asio::steady_timer>(ioc_, std::chrono::milliseconds{when(rng)}));
            timers.back()->async_wait([go](boost::system::error_code) { go(); });
        }
    }
    process_probe server{tg_.server_pid};
    const auto deadline = t0 + storm_timeout;
    run_until([&] {
        progress(label, std::chrono::duration<double>(clock::now() - t0).count(), devices_.size() - pending,
                 devices_.size());
        return pending == 0 || clock::now() > deadline;
    });
    std::fputc('\n', stderr);
    give_up(pending, failed);
    rec.failed = static_cast<unsigned>(failed);
    rec.all_connected_s = std::chrono::duration<double>(last - t0).count();
    rec.server_rss_mib = server.valid() ? server.sample(0).rss_mib : 0;
    return rec;
}

storm_record runner::reconnect_storm(unsigned jitter_ms) {
    for (auto& d : devices_) {
        d.conn->drop();
    }
    // Let the broker see the closes (and publish the wills) before the storm.
    const auto until = clock::now() + std::chrono::milliseconds{500};
    run_until([&] { return clock::now() >= until; });
    return connect_storm(
        jitter_ms == 0 ? "reconnect, no jitter" : "reconnect, " + std::to_string(jitter_ms) + " ms jitter", jitter_ms);
}

void runner::give_up(std::size_t& pending, std::size_t& failed) {
    if (pending == 0) {
        return;
    }
    failed += pending;
    pending = 0;
    for (auto& d : devices_) {
        if (d.conn && !d.conn->connected()) {
            d.conn->drop();
        }
    }
}

void runner::give_up_receivers() {
    for (auto& p : subs_) {
        p->drop();
    }
    for (auto& d : dashboards_) {
        d->close();
    }
}

void runner::progress(const std::string& label, double t, std::size_t done, std::size_t total) {
    static auto last = clock::now() - std::chrono::seconds{1};
    if (clock::now() - last < std::chrono::milliseconds{250}) {
        return;
    }
    last = clock::now();
    std::fprintf(stderr, "\r[%s] %.1f s: %zu/%zu connected   ", label.c_str(), t, done, total);
}

}  // namespace vigil::bench::detail
