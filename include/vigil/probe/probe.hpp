#pragma once
/// The end-to-end probe: every interval Vigil connects to its own listeners as a real MQTT
/// client and a real /ws dashboard (through accept, TLS, authentication and the ACL like any
/// device or browser), publishes a QoS 1 message and times its arrival at both. The only
/// measurement that sees a failure anywhere between a device and a dispatcher's screen.

#include <vigil/config/settings.hpp>
#include <vigil/core/histogram.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace vigil::probe {

/// A listener of this process, as the probe reaches it.
struct endpoint {
    std::string host;  ///< an IP address (a wildcard bind is reached on loopback)
    std::uint16_t port = 0;
    bool tls = false;
};

/// The history path: whether a probe message (by its payload) can be read back from the
/// archive, asked until it can or `timeout` after its publish.
struct history_check {
    std::function<bool(const std::string& payload)> archived;
    std::chrono::milliseconds timeout{10'000};
};

struct options {
    endpoint mqtt;
    std::optional<endpoint> ws;            ///< the /ws of an HTTP listener; nullopt: MQTT only
    std::optional<history_check> history;  ///< nullopt: no archive
    config::probe_settings settings;
    /// A round that has not finished by then fails (at least max_latency).
    std::chrono::milliseconds timeout{5000};
};

/// How the probe reaches a listener bound to `address` (a wildcard address: on loopback).
[[nodiscard]] endpoint reach(const std::string& address, std::uint16_t port, bool tls);

/// What one round measured.
struct round_result {
    std::optional<double> mqtt_seconds;     ///< publish -> the MQTT subscriber
    std::optional<double> ws_seconds;       ///< publish -> the /ws dashboard
    std::optional<double> history_seconds;  ///< publish -> queryable in the history archive
    std::string error;                      ///< empty when every path delivered
};

/// Runs one round now, on the calling thread, within `o.timeout` (ending within 50 ms once
/// `stopping` is set). `n` makes its payload unique.
[[nodiscard]] round_result run_round(const options& o, std::uint64_t n, const std::atomic<bool>& stopping);

/// Latencies of the rounds that got an answer.
using latency_histogram = histogram<duration_bounds>;

enum class state : std::uint8_t { pending, ok, degraded };

struct stats {
    std::uint64_t rounds = 0;
    std::uint64_t failures = 0;  ///< rounds where a message did not arrive (or an error)
    std::uint64_t slow = 0;      ///< rounds that arrived slower than max_latency
    latency_histogram mqtt;
    latency_histogram ws;
    latency_histogram history;
    round_result last;
    double last_time = 0;  ///< when the last round ended (s since the Unix epoch); 0: none yet
    state now = state::pending;
    bool ws_on = false;
    bool history_on = false;
};

/// Runs rounds on a thread of its own every `settings.interval`, the first one at start.
/// Thread safety: snapshot from any thread; construct, start and destroy on one.
class prober {
public:
    explicit prober(config::probe_settings s);
    ~prober();  ///< stop()

    /// Starts the rounds against these listeners (once they are open) and, with `history`,
    /// the archive. The history path is not held to max_latency (the archive writes every
    /// flush_interval): a round fails only when its message is not readable within the timeout.
    void start(endpoint mqtt, std::optional<endpoint> ws, std::optional<history_check> history);
    /// Ends the rounds (within one round's timeout); snapshot still answers.
    void stop();
    prober(const prober&) = delete;
    prober& operator=(const prober&) = delete;

    [[nodiscard]] stats snapshot() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::probe
