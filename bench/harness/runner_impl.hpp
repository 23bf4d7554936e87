#pragma once
// The runner behind run_scenario (runner.hpp), shared by its two halves: runner_connect.cpp
// brings the fleet up (setup, connect storms) and runner.cpp measures steps (publishing,
// receiving, ramps).
//
// Two threads, each with its own io_context. The main thread drives the devices: they publish
// on a 2 ms tick, each spread over its period (as real fleets are, not all in one instant). The
// receiving thread drives every receiving client (MQTT subscriber or dashboard), which checks
// sequence numbers per device and stream and times each message from the stamp the device
// wrote into it. Apart, a burst of publishing never delays reading (one thread doing both fell
// behind its own subscriber at ~570,000 messages/s with half a core idle). The main thread
// touches receiving state only through `on_rx`, which runs a function on the receiving thread
// and waits for it.

#include <vigil/core/sync.hpp>

#include "dashboard.hpp"
#include "peer.hpp"
#include "runner.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vigil::bench::detail {

using clock = std::chrono::steady_clock;

struct device {
    std::array<std::string, streams> topics;
    login who;  // made once: reconnects (storms, churn) reuse its certificate
    std::shared_ptr<peer> conn;
    std::array<std::uint32_t, streams> seq{};
    std::array<std::uint64_t, streams> due_done{};  // schedule slots already used
    std::array<std::uint64_t, streams> window_sent{};
};

/// Thread safety: used from the main thread; receivers live on the receiving thread (above).
class runner {
public:
    runner(const scenario& sc, const target& tg);

    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    ~runner();

    run_result run();

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

    std::shared_ptr<peer> make_device_peer(std::size_t i);
    /// The name the server's certificate must carry ("" : not verified, no CA given).
    [[nodiscard]] std::string server_name() const;
    /// Keeps the first reason a client could not connect, for the setup's error (any thread).
    void note_failure(std::string why);
    std::vector<std::string> dashboard_filters(std::size_t j) const;

    /// Subscribers and dashboards first, then devices, `setup_concurrency` connects at a time.
    storm_record setup();

    /// Every device connects within `jitter_ms` (0: all at once); times each CONNACK.
    storm_record connect_storm(const std::string& label, unsigned jitter_ms);

    /// The broker's view of a restart: every device drops at once, then all reconnect.
    storm_record reconnect_storm(unsigned jitter_ms);

    /// After a timeout: connects still unanswered count as failed; their callbacks (which
    /// refer to the caller's locals) never run, as a dropped peer reports nothing.
    void give_up(std::size_t& pending, std::size_t& failed);

    /// On the receiving thread, when some receivers never finished connecting: drops them all
    /// (their callbacks refer to the setup's frame; the setup fails anyway).
    void give_up_receivers();

    void progress(const std::string& label, double t, std::size_t done, std::size_t total);

    /// Publishes what each device owes by `elapsed` seconds into the step.
    void publish_due(double hz, double elapsed, std::int64_t window_start, std::array<std::uint64_t, streams>& sent);
    void churn_one();

    step_record step(double hz, const std::string& label);
    void compute_expected(step_record& s) const;

    const scenario& sc_;
    const target& tg_;
    asio::io_context ioc_{1};  // devices: the main thread
    // Kept busy, so run_until sleeps (not spins) while only the receiving thread has work.
    asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
    asio::io_context rx_ioc_{1};  // subscribers and dashboards: rx_thread_
    asio::executor_work_guard<asio::io_context::executor_type> rx_guard_{rx_ioc_.get_executor()};
    asio::ssl::context tls_ctx_;
    login_maker logins_;
    mutex error_mu_;
    std::string first_error_ VIGIL_GUARDED_BY(error_mu_);  // the first reason a client could not connect
    tcp::endpoint mqtt_ep_;
    tcp::endpoint http_ep_;
    std::vector<device> devices_;
    std::vector<std::unique_ptr<recipient>> sub_rcpt_;
    std::vector<std::unique_ptr<recipient>> dash_rcpt_;
    std::vector<std::shared_ptr<peer>> subs_;
    std::vector<std::shared_ptr<dashboard>> dashboards_;
    std::size_t churn_next_ = 0;
    std::string payload_;    // reused for every message
    std::thread rx_thread_;  // last: started once everything it uses exists
};

}  // namespace vigil::bench::detail
