#pragma once
// Runs a scenario against a broker: connects the fleet, then measures steady steps, a ramp, or
// connect storms, with a live progress line on stderr.

#include "record.hpp"
#include "scenario.hpp"
#include "site.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::bench {

struct target {
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883;       ///< MQTT (TLS when the scenario says tls = true)
    std::uint16_t http_port = 8080;  ///< for dashboards
    int server_pid = 0;              ///< sampled from /proc when given
    std::string broker = "vigil";    ///< a label for reports
    site production;                 ///< certificates, passwords, token of a real site
};

struct run_result {
    scenario sc;
    target tg;
    std::string started_at;  ///< UTC, ISO 8601
    storm_record setup;      ///< the fleet's first connects
    std::vector<step_record> steps;
    std::vector<storm_record> storms;
    int best_step = -1;                                                ///< ramp: the last step within the bounds
    host_info host;                                                    ///< where the generator ran
    std::vector<std::pair<std::string, std::string>> server_settings;  ///< from --server-config
};

/// Errors: throws std::runtime_error when clients cannot connect at setup.
[[nodiscard]] run_result run_scenario(const scenario& sc, const target& tg);

/// Loss ratio of a step over both paths, and its p99 in ms over both paths.
[[nodiscard]] double step_loss(const step_record& s);
[[nodiscard]] double step_p99(const step_record& s);

}  // namespace vigil::bench
