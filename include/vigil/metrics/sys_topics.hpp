#pragma once
/// Mosquitto's `$SYS/broker/...` topics, computed from the broker's counters, so that tools
/// written for Mosquitto keep working. Pure: the caller publishes what update() returns.

#include <vigil/mqtt/broker/broker.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil::metrics {

/// Thread safety: none (one caller).
class sys_topics {
public:
    explicit sys_topics(std::string version) : version_(std::move(version)) {}

    /// The topics and payloads to publish now: totals, gauges, and per-minute load averages
    /// over 1, 5 and 15 minutes (Mosquitto's exponential decay), `elapsed_seconds` after the
    /// previous call (the first call starts the averages at 0).
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> update(const mqtt::broker_stats& b,
                                                                          double uptime_seconds,
                                                                          double elapsed_seconds);

private:
    /// One counter's load averages.
    struct load {
        std::uint64_t last = 0;
        std::array<double, 3> average{};  // 1, 5 and 15 minutes
    };
    void add_load(std::vector<std::pair<std::string, std::string>>& out, const std::string& name, load& l,
                  std::uint64_t total, double elapsed_seconds, bool first);

    std::string version_;
    bool started_ = false;
    std::int64_t max_connected_ = 0;
    load received_, sent_, bytes_received_, bytes_sent_, connections_, dropped_;
};

}  // namespace vigil::metrics
