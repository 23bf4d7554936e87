#pragma once
// What a run produces: a human summary (stdout), a JSON result, and a self-contained HTML
// report with SVG plots (latency histogram, latency and throughput over time, RSS over time)
// that opens offline.

#include "runner.hpp"

#include <string>

namespace vigil::bench {

[[nodiscard]] std::string summary_text(const run_result& r);
[[nodiscard]] std::string json_report(const run_result& r);
[[nodiscard]] std::string html_report(const run_result& r);

}  // namespace vigil::bench
