// The probe's thread: a round every interval, its results kept for /metrics and /healthz, and
// one log line whenever the verdict changes.

#include <vigil/probe/probe.hpp>

#include <vigil/core/log.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/core/thread_name.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>
#include <utility>

namespace vigil::probe {

struct prober::impl {
    options o;
    mutable mutex mu;
    std::condition_variable wake;
    std::atomic<bool> stopping{false};  // also read by a round in progress
    stats st VIGIL_GUARDED_BY(mu);
    std::thread thread;

    void record(const round_result& r) {
        const double limit = std::chrono::duration<double>(o.settings.max_latency).count();
        const bool failed = !r.error.empty();
        const bool slow = !failed && (r.mqtt_seconds.value_or(0) > limit || r.ws_seconds.value_or(0) > limit);
        const state verdict = failed || slow ? state::degraded : state::ok;
        state before{};
        {
            const lock_guard lock{mu};
            ++st.rounds;
            st.failures += failed ? 1 : 0;
            st.slow += slow ? 1 : 0;
            if (r.mqtt_seconds) {
                st.mqtt.add(*r.mqtt_seconds);
            }
            if (r.ws_seconds) {
                st.ws.add(*r.ws_seconds);
            }
            if (r.history_seconds) {
                st.history.add(*r.history_seconds);
            }
            st.last = r;
            st.last_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
            before = std::exchange(st.now, verdict);
        }
        const auto ms = [](const std::optional<double>& s) {
            return s ? fmt::format("{:.1f} ms", *s * 1e3) : std::string{"-"};
        };
        if (verdict == state::ok && before != state::ok) {
            log::info("probe: ok (publish -> MQTT {}, -> /ws {}, -> history {})", ms(r.mqtt_seconds), ms(r.ws_seconds),
                      ms(r.history_seconds));
        } else if (verdict == state::degraded && before != state::degraded) {
            log::warn("probe: degraded: {}",
                      failed ? r.error
                             : fmt::format("slower than max_latency {} ms (publish -> MQTT {}, -> /ws {})",
                                           o.settings.max_latency.count(), ms(r.mqtt_seconds), ms(r.ws_seconds)));
        }
    }

    void run() {
        name_thread("vigil-probe");
        for (std::uint64_t n = 1;; ++n) {
            const auto r = run_round(o, n, stopping);
            if (stopping) {
                return;  // a round cut short by the stop says nothing about the service
            }
            record(r);
            unique_lock lock{mu};
            if (wake.wait_for(lock.native(), o.settings.interval, [this] { return stopping.load(); })) {
                return;
            }
        }
    }
};

endpoint reach(const std::string& address, std::uint16_t port, bool tls) {
    const std::string host = address == "0.0.0.0" || address.empty() ? "127.0.0.1" : address == "::" ? "::1" : address;
    return {host, port, tls};
}

prober::prober(config::probe_settings s) : impl_(std::make_unique<impl>()) {
    impl_->o.settings = std::move(s);
    impl_->o.timeout = std::max(std::chrono::milliseconds{5000}, impl_->o.settings.max_latency * 2);
}

void prober::start(endpoint mqtt, std::optional<endpoint> ws, std::optional<history_check> history) {
    impl_->o.mqtt = std::move(mqtt);
    impl_->o.ws = std::move(ws);
    impl_->o.history = std::move(history);
    {
        const lock_guard lock{impl_->mu};
        impl_->st.ws_on = impl_->o.ws.has_value();
        impl_->st.history_on = impl_->o.history.has_value();
    }
    impl_->thread = std::thread([i = impl_.get()] { i->run(); });
}

prober::~prober() { stop(); }

void prober::stop() {
    if (!impl_->thread.joinable()) {
        return;
    }
    {
        const lock_guard lock{impl_->mu};  // not between the waiter's check and its sleep
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    impl_->thread.join();
}

stats prober::snapshot() const {
    const lock_guard lock{impl_->mu};
    return impl_->st;
}

}  // namespace vigil::probe
