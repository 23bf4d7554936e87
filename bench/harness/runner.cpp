// The run loop: two threads, each with its own io_context. The main thread drives the devices:
// they publish on a 2 ms tick, each spread over its period (as real fleets are, not all in one
// instant). The receiving thread drives every receiving client (MQTT subscriber or dashboard),
// which checks sequence numbers per device and stream and times each message from the stamp
// the device wrote into it. Apart, a burst of publishing never delays reading (one thread doing
// both fell behind its own subscriber at ~570,000 messages/s with half a core idle). The main
// thread touches receiving state only through `on_rx`, which runs a function on the receiving
// thread and waits for it.
#include "runner.hpp"

#include "dashboard.hpp"
#include "peer.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <future>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <sys/resource.h>

namespace vigil::bench {
namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t max_backlog = 4u << 20;  // a device's unsent bytes before it skips a beat
constexpr unsigned setup_concurrency = 256;    // connects in flight while the fleet starts
constexpr auto storm_timeout = std::chrono::seconds{60};  // connects unanswered by then fail

const std::array<const char*, streams> topic_suffix{"location", "status", "events"};

std::string device_name(std::size_t i) {
    char b[32];
    std::snprintf(b, sizeof b, "dev-%05zu", i);
    return b;
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return b;
}

struct device {
    std::array<std::string, streams> topics;
    std::shared_ptr<peer> conn;
    std::array<std::uint32_t, streams> seq{};
    std::array<std::uint64_t, streams> due_done{};  // schedule slots already used
    std::array<std::uint64_t, streams> window_sent{};
};

class runner {
public:
    runner(const scenario& sc, const target& tg) : sc_(sc), tg_(tg), tls_ctx_(asio::ssl::context::tls_client) {
        tls_ctx_.set_verify_mode(asio::ssl::verify_none);
        mqtt_ep_ = {asio::ip::make_address(tg.host), tg.port};
        http_ep_ = {asio::ip::make_address(tg.host), tg.http_port};
        devices_.resize(sc.devices);
        for (std::size_t i = 0; i < devices_.size(); ++i) {
            for (std::size_t k = 0; k < streams; ++k) {
                devices_[i].topics[k] = "devices/" + device_name(i) + "/" + topic_suffix[k];
            }
        }
        rx_thread_ = std::thread([this] { rx_ioc_.run(); });
    }

    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    ~runner() {
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

    run_result run() {
        run_result r;
        r.sc = sc_;
        r.tg = tg_;
        r.started_at = utc_now();
        if (sc_.storm) {
            r.storms.push_back(connect_storm("connect", sc_.storm_jitter_ms.front()));
            for (const unsigned j : sc_.storm_jitter_ms) {
                r.storms.push_back(reconnect_storm(j));
            }
            return r;
        }
        r.setup = setup();
        const auto held = [&](const step_record& s) { return step_p99(s) <= sc_.max_p99_ms && step_loss(s) <= sc_.max_loss; };
        if (!sc_.ramp) {
            r.steps.push_back(step(sc_.location_hz, "steady"));
            r.best_step = held(r.steps.back()) ? 0 : -1;
            return r;
        }
        double hz = sc_.location_hz;
        double broke_at = 0;
        for (unsigned i = 0; i < sc_.max_steps; ++i) {
            r.steps.push_back(step(hz, "step " + std::to_string(i + 1)));
            if (!held(r.steps.back())) {
                broke_at = hz;
                break;
            }
            r.best_step = static_cast<int>(i);
            hz *= sc_.ramp_factor;
        }
        if (r.best_step < 0 || broke_at == 0) {
            return r;
        }
        double lo = r.steps[static_cast<std::size_t>(r.best_step)].location_hz;
        double hi = broke_at;
        for (unsigned k = 0; k < sc_.refine_steps; ++k) {
            const double mid = std::sqrt(lo * hi);
            r.steps.push_back(step(mid, "refine " + std::to_string(k + 1)));
            if (held(r.steps.back())) {
                r.best_step = static_cast<int>(r.steps.size() - 1);
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return r;
    }

private:
    /// Runs `f` on the receiving thread and returns its result.
    template <class F>
    auto on_rx(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        asio::post(rx_ioc_, [&task] { task(); });
        return result.get();
    }

    template <class Pred>
    void run_until(Pred pred) {
        while (!pred()) {
            ioc_.run_for(std::chrono::milliseconds{1});
            if (ioc_.stopped()) {
                ioc_.restart();
            }
        }
    }

    std::shared_ptr<peer> make_device_peer(std::size_t i) {
        std::optional<peer::will_msg> will;
        if (sc_.will) {
            will = peer::will_msg{"devices/" + device_name(i) + "/status", "offline"};
        }
        return std::make_shared<peer>(ioc_, mqtt_ep_, tls_ctx_, sc_.tls, "bench-" + device_name(i), std::move(will), nullptr);
    }

    std::vector<std::string> dashboard_filters(std::size_t j) const {
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

    /// Subscribers and dashboards first, then devices, `setup_concurrency` connects at a time.
    storm_record setup() {
        storm_record rec;
        rec.label = "setup";
        const auto t0 = clock::now();
        // Receivers connect on the receiving thread; their callbacks report through these.
        std::atomic<std::size_t> rx_pending{0};
        std::atomic<std::size_t> rx_failed{0};
        std::mutex rx_mu;
        std::vector<std::uint32_t> rx_connect_us;  // guarded by rx_mu
        auto connected = [&](bool ok, std::uint32_t us) {
            if (ok) {
                const std::lock_guard lock{rx_mu};
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
                auto p = std::make_shared<peer>(rx_ioc_, mqtt_ep_, tls_ctx_, sc_.tls, "bench-sub-" + std::to_string(i), std::nullopt, sub_rcpt_.back().get());
                p->connect([&, p, filters](bool ok, std::uint32_t us) {
                    connected(ok, us);
                    if (!ok) {
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
                auto d = std::make_shared<dashboard>(rx_ioc_, http_ep_, dash_rcpt_.back().get());
                d->start(dashboard_filters(j), [&](bool ok, std::uint32_t us) {
                    connected(ok, us);
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
            devices_[i].conn->connect([&](bool ok, std::uint32_t us) {
                --pending;
                ok ? rec.connect_us.push_back(us) : static_cast<void>(++failed);
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
            throw std::runtime_error(std::to_string(failed) + " of " + std::to_string(rec.clients) +
                                     " clients could not connect (is the broker running, with /ws for dashboards?)");
        }
        return rec;
    }

    /// Every device connects within `jitter_ms` (0: all at once); times each CONNACK.
    storm_record connect_storm(const std::string& label, unsigned jitter_ms) {
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
            progress(label, std::chrono::duration<double>(clock::now() - t0).count(), devices_.size() - pending, devices_.size());
            return pending == 0 || clock::now() > deadline;
        });
        std::fputc('\n', stderr);
        give_up(pending, failed);
        rec.failed = static_cast<unsigned>(failed);
        rec.all_connected_s = std::chrono::duration<double>(last - t0).count();
        rec.server_rss_mib = server.valid() ? server.sample(0).rss_mib : 0;
        return rec;
    }

    /// The broker's view of a restart: every device drops at once, then all reconnect.
    storm_record reconnect_storm(unsigned jitter_ms) {
        for (auto& d : devices_) {
            d.conn->drop();
        }
        // Let the broker see the closes (and publish the wills) before the storm.
        const auto until = clock::now() + std::chrono::milliseconds{500};
        run_until([&] { return clock::now() >= until; });
        return connect_storm(jitter_ms == 0 ? "reconnect, no jitter" : "reconnect, " + std::to_string(jitter_ms) + " ms jitter", jitter_ms);
    }

    /// After a timeout: connects still unanswered count as failed; their callbacks (which
    /// refer to the caller's locals) never run, as a dropped peer reports nothing.
    void give_up(std::size_t& pending, std::size_t& failed) {
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

    /// On the receiving thread, when some receivers never finished connecting: drops them all
    /// (their callbacks refer to the setup's frame; the setup fails anyway).
    void give_up_receivers() {
        for (auto& p : subs_) {
            p->drop();
        }
        for (auto& d : dashboards_) {
            d->close();
        }
    }

    void progress(const std::string& label, double t, std::size_t done, std::size_t total) {
        static auto last = clock::now() - std::chrono::seconds{1};
        if (clock::now() - last < std::chrono::milliseconds{250}) {
            return;
        }
        last = clock::now();
        std::fprintf(stderr, "\r[%s] %.1f s: %zu/%zu connected   ", label.c_str(), t, done, total);
    }

    /// Publishes what each device owes by `elapsed` seconds into the step.
    void publish_due(double hz, double elapsed, std::int64_t window_start, std::array<std::uint64_t, streams>& sent) {
        const std::array<double, streams> rate{hz, sc_.status_interval_s > 0 ? 1.0 / sc_.status_interval_s : 0.0, sc_.events_per_min / 60.0};
        const double n = static_cast<double>(devices_.size());
        for (std::size_t i = 0; i < devices_.size(); ++i) {
            auto& d = devices_[i];
            if (!d.conn || !d.conn->connected() || d.conn->backlog() > max_backlog) {
                continue;
            }
            const double phase = static_cast<double>(i) / n;
            bool any = false;
            for (int k = 0; k < streams; ++k) {
                const auto ku = static_cast<std::size_t>(k);
                if (rate[ku] <= 0) {
                    continue;
                }
                const auto due = static_cast<std::uint64_t>(rate[ku] * elapsed + std::fmod(phase + 0.37 * k, 1.0));
                while (d.due_done[ku] < due) {
                    ++d.due_done[ku];
                    const stamp s{now_ns(), static_cast<std::uint32_t>(i), k, ++d.seq[ku]};
                    make_payload(s, sc_.payload_bytes, payload_);
                    d.conn->publish(d.topics[ku], payload_, k == 0 ? 0 : 1, k == 1);
                    if (s.t >= window_start) {
                        ++d.window_sent[ku];
                        ++sent[ku];
                    }
                    any = true;
                }
            }
            if (any) {
                d.conn->flush();
            }
        }
    }

    void churn_one() {
        auto& d = devices_[churn_next_ % devices_.size()];
        const std::size_t i = churn_next_ % devices_.size();
        ++churn_next_;
        d.conn->drop();
        d.conn = make_device_peer(i);
        d.conn->connect([](bool, std::uint32_t) {});
    }

    step_record step(double hz, const std::string& label) {
        step_record s;
        s.label = label;
        s.seconds = sc_.seconds;
        s.location_hz = hz;
        const double per_device = hz + (sc_.status_interval_s > 0 ? 1.0 / sc_.status_interval_s : 0.0) + sc_.events_per_min / 60.0;
        s.target_publish_rate = per_device * static_cast<double>(sc_.devices);
        for (auto& d : devices_) {
            d.due_done = {};
            d.window_sent = {};
        }
        const auto t0 = clock::now();
        const std::int64_t t0_ns = now_ns();
        const std::int64_t window_start = t0_ns + static_cast<std::int64_t>(sc_.warmup_seconds * 1e9);
        on_rx([&] {
            for (auto& r : sub_rcpt_) {
                r->rec = &s.mqtt;
                r->window_start = window_start;
            }
            for (auto& r : dash_rcpt_) {
                r->rec = &s.ws;
                r->window_start = window_start;
            }
        });
        process_probe server{tg_.server_pid};
        process_probe self{0};
        (void)server.sample(0);
        (void)self.sample(0);
        const double total = sc_.warmup_seconds + sc_.seconds;
        asio::steady_timer tick(ioc_);
        bool sending = true;
        double next_sample = sc_.warmup_seconds + 1;
        double next_churn = sc_.churn_per_s > 0 ? 1.0 / sc_.churn_per_s : 1e18;
        std::uint64_t sent_before = 0;
        std::uint64_t recv_before = 0;
        std::function<void()> on_tick = [&] {
            const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
            if (elapsed >= total) {
                sending = false;
                return;
            }
            publish_due(hz, elapsed, window_start, s.sent);
            while (elapsed >= next_churn) {
                churn_one();
                next_churn += 1.0 / sc_.churn_per_s;
            }
            if (elapsed >= next_sample) {
                const double t = elapsed - sc_.warmup_seconds;
                if (server.valid()) {
                    s.server.push_back(server.sample(t));
                }
                s.generator.push_back(self.sample(t));
                const std::uint64_t sent_now = s.sent[0] + s.sent[1] + s.sent[2];
                std::vector<std::uint32_t> last_second;
                const std::uint64_t recv_now = on_rx([&] {
                    std::uint64_t n = 0;
                    for (std::size_t k = 0; k < streams; ++k) {
                        n += s.mqtt.received[k] + s.ws.received[k];
                    }
                    for (const path_record* p : {&s.mqtt, &s.ws}) {
                        if (!p->latency_us_by_second.empty()) {
                            const auto& v = p->latency_us_by_second.back();
                            last_second.insert(last_second.end(), v.begin(), v.end());
                        }
                    }
                    return n;
                });
                s.sent_per_second.push_back(static_cast<double>(sent_now - sent_before));
                s.delivered_per_second.push_back(static_cast<double>(recv_now - recv_before));
                sent_before = sent_now;
                recv_before = recv_now;
                std::fprintf(stderr, "\r[%s %s] %.0f/%.0f s  sent %.0f/s  delivered %.0f/s  p99 %.2f ms  server %.2f cores %.0f MiB  generator %.2f cores   ",
                             sc_.name.c_str(), label.c_str(), t, sc_.seconds, s.sent_per_second.back(), s.delivered_per_second.back(),
                             percentile_ms(last_second, 0.99), s.server.empty() ? 0.0 : s.server.back().cpu,
                             s.server.empty() ? 0.0 : s.server.back().rss_mib, s.generator.back().cpu);
                next_sample += 1;
            }
            tick.expires_after(std::chrono::milliseconds{2});
            tick.async_wait([&](boost::system::error_code) { on_tick(); });
        };
        on_tick();
        run_until([&] { return !sending; });
        std::fputc('\n', stderr);
        compute_expected(s);
        // Drain: until everything expected arrived, or nothing new for 1 s (at most 10 s).
        auto received = [&] {
            return on_rx([&] {
                std::uint64_t n = 0;
                for (std::size_t k = 0; k < streams; ++k) {
                    n += s.mqtt.received[k] + s.ws.received[k] + (k == 0 ? s.ws.conflated : 0);
                }
                return n;
            });
        };
        std::uint64_t expected = 0;
        for (std::size_t k = 0; k < streams; ++k) {
            expected += s.mqtt.expected[k] + s.ws.expected[k];
        }
        const auto drain_start = clock::now();
        auto last_change = drain_start;
        std::uint64_t last_count = received();
        run_until([&] {
            const std::uint64_t n = received();
            if (n != last_count) {
                last_count = n;
                last_change = clock::now();
            }
            return n >= expected || clock::now() - last_change > std::chrono::seconds{1} || clock::now() - drain_start > std::chrono::seconds{10};
        });
        on_rx([&] {  // after this, the receiving thread no longer touches `s`
            for (auto& r : sub_rcpt_) {
                r->rec = nullptr;
            }
            for (auto& r : dash_rcpt_) {
                r->rec = nullptr;
            }
        });
        return s;
    }

    void compute_expected(step_record& s) const {
        std::array<bool, streams> sub_streams{};
        for (const auto& n : sc_.subscriber_streams) {
            sub_streams[static_cast<std::size_t>(stream_index(n))] = true;
        }
        std::array<bool, streams> dash_streams{};
        for (const auto& n : sc_.dashboard_streams) {
            dash_streams[static_cast<std::size_t>(stream_index(n))] = true;
        }
        for (std::size_t k = 0; k < streams; ++k) {
            std::uint64_t all = 0;
            for (const auto& d : devices_) {
                all += d.window_sent[k];
            }
            if (sub_streams[k]) {
                s.mqtt.expected[k] = all * sc_.subscribers;
            }
            if (!dash_streams[k]) {
                continue;
            }
            if (sc_.watch == 0) {
                s.ws.expected[k] = all * sc_.dashboards;
                continue;
            }
            for (std::size_t j = 0; j < sc_.dashboards; ++j) {
                for (unsigned w = 0; w < sc_.watch; ++w) {
                    s.ws.expected[k] += devices_[(j * sc_.watch + w) % sc_.devices].window_sent[k];
                }
            }
        }
    }

    const scenario& sc_;
    const target& tg_;
    asio::io_context ioc_{1};     // devices: the main thread
    // Kept busy, so run_until sleeps (not spins) while only the receiving thread has work.
    asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
    asio::io_context rx_ioc_{1};  // subscribers and dashboards: rx_thread_
    asio::executor_work_guard<asio::io_context::executor_type> rx_guard_{rx_ioc_.get_executor()};
    asio::ssl::context tls_ctx_;
    tcp::endpoint mqtt_ep_;
    tcp::endpoint http_ep_;
    std::vector<device> devices_;
    std::vector<std::unique_ptr<recipient>> sub_rcpt_;
    std::vector<std::unique_ptr<recipient>> dash_rcpt_;
    std::vector<std::shared_ptr<peer>> subs_;
    std::vector<std::shared_ptr<dashboard>> dashboards_;
    std::size_t churn_next_ = 0;
    std::string payload_;  // reused for every message
    std::thread rx_thread_;  // last: started once everything it uses exists
};

double path_loss_count(const path_record& p, std::uint64_t& expected) {
    double lost = 0;
    for (std::size_t k = 0; k < streams; ++k) {
        expected += p.expected[k];
        const std::uint64_t got = p.received[k] + (k == 0 ? p.conflated : 0);
        lost += p.expected[k] > got ? static_cast<double>(p.expected[k] - got) : 0.0;
    }
    return lost;
}

}  // namespace

double step_loss(const step_record& s) {
    std::uint64_t expected = 0;
    const double lost = path_loss_count(s.mqtt, expected) + path_loss_count(s.ws, expected);
    return expected == 0 ? 0 : lost / static_cast<double>(expected);
}

double step_p99(const step_record& s) {
    auto all = s.mqtt.all_latencies();
    const auto ws = s.ws.all_latencies();
    all.insert(all.end(), ws.begin(), ws.end());
    return percentile_ms(all, 0.99);
}

run_result run_scenario(const scenario& sc, const target& tg) {
    raise_fd_limit();
    runner r{sc, tg};
    return r.run();
}

}  // namespace vigil::bench
