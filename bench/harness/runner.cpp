// Measured steps: devices publish what they owe on a 2 ms tick, receivers count and time
// what arrives; a ramp raises the rate until a bound breaks, then refines (runner_impl.hpp).
#include "runner_impl.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>

#include <sys/resource.h>

namespace vigil::bench {
namespace detail {
namespace {

constexpr std::size_t max_backlog = 4u << 20;  // a device's unsent bytes before it skips a beat

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return b;
}

}  // namespace

run_result runner::run() {
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
    const auto held = [&](const step_record& s) {
        return step_p99(s) <= sc_.max_p99_ms && step_loss(s) <= sc_.max_loss;
    };
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

void runner::publish_due(double hz, double elapsed, std::int64_t window_start,
                         std::array<std::uint64_t, streams>& sent) {
    const std::array<double, streams> rate{hz, sc_.status_interval_s > 0 ? 1.0 / sc_.status_interval_s : 0.0,
                                           sc_.events_per_min / 60.0};
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

void runner::churn_one() {
    auto& d = devices_[churn_next_ % devices_.size()];
    const std::size_t i = churn_next_ % devices_.size();
    ++churn_next_;
    d.conn->drop();
    d.conn = make_device_peer(i);
    d.conn->connect([](bool, std::uint32_t) {});
}

step_record runner::step(double hz, const std::string& label) {
    step_record s;
    s.label = label;
    s.seconds = sc_.seconds;
    s.location_hz = hz;
    const double per_device =
        hz + (sc_.status_interval_s > 0 ? 1.0 / sc_.status_interval_s : 0.0) + sc_.events_per_min / 60.0;
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
            std::fprintf(stderr,
                         "\r[%s %s] %.0f/%.0f s  sent %.0f/s  delivered %.0f/s  p99 %.2f ms  server %.2f cores %.0f "
                         "MiB  generator %.2f cores   ",
                         sc_.name.c_str(), label.c_str(), t, sc_.seconds, s.sent_per_second.back(),
                         s.delivered_per_second.back(), percentile_ms(last_second, 0.99),
                         s.server.empty() ? 0.0 : s.server.back().cpu, s.server.empty() ? 0.0 : s.server.back().rss_mib,
                         s.generator.back().cpu);
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
        return n >= expected || clock::now() - last_change > std::chrono::seconds{1} ||
               clock::now() - drain_start > std::chrono::seconds{10};
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

void runner::compute_expected(step_record& s) const {
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

}  // namespace detail

namespace {

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

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
    detail::runner r{sc, tg};
    return r.run();
}

}  // namespace vigil::bench
