#pragma once
// What a run observes: latencies per path (device -> MQTT subscriber, device -> browser) by
// second, counts per stream, duplicates, connect times, and samples of the server's and the
// generator's own CPU and RSS.

#include "../load/measure.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::bench {

constexpr int streams = 3;  // location, status, events
inline constexpr std::array<const char*, streams> stream_names{"location", "status", "events"};

[[nodiscard]] std::int64_t now_ns() noexcept;

/// One delivery path's observations.
struct path_record {
    std::vector<std::vector<std::uint32_t>> latency_us_by_second;  ///< [second][sample]
    std::array<std::uint64_t, streams> received{};
    std::array<std::uint64_t, streams> expected{};
    std::array<std::uint64_t, streams> duplicates{};
    std::uint64_t conflated = 0;  ///< positions replaced by newer ones for a slow dashboard

    void add(std::int64_t sent_ns, std::int64_t now, std::int64_t t0, int stream);
    [[nodiscard]] std::vector<std::uint32_t> all_latencies() const;
};

/// Per-second samples of a process.
struct process_sample {
    double t = 0;    ///< seconds since the step began
    double cpu = 0;  ///< cores used over the last second
    double rss_mib = 0;
};

/// Reads /proc/PID for CPU seconds and RSS (PID 0: this process).
class process_probe {
public:
    explicit process_probe(int pid) : pid_(pid) {}
    [[nodiscard]] bool valid() const;
    /// Cores used since the previous call, and RSS now.
    process_sample sample(double t);

private:
    [[nodiscard]] double cpu_seconds() const;
    [[nodiscard]] double rss_mib() const;
    int pid_;
    double last_cpu_ = -1;
    std::chrono::steady_clock::time_point last_at_{};
};

/// One measured step (a fixed rate, or one rung of a ramp).
struct step_record {
    std::string label;
    double seconds = 0;
    double location_hz = 0;                     ///< per device
    std::array<std::uint64_t, streams> sent{};  ///< by the devices, in the window
    double target_publish_rate = 0;             ///< messages/s all streams, as configured
    path_record mqtt;
    path_record ws;
    std::vector<process_sample> server;
    std::vector<process_sample> generator;
    std::vector<double> sent_per_second;
    std::vector<double> delivered_per_second;  ///< both paths
};

/// Connect times of one storm phase.
struct storm_record {
    std::string label;
    unsigned clients = 0;
    unsigned jitter_ms = 0;
    unsigned failed = 0;
    double all_connected_s = 0;  ///< first attempt to the last CONNACK
    std::vector<std::uint32_t> connect_us;
    double server_rss_mib = 0;
};

}  // namespace vigil::bench
