#pragma once
// The verdict of a run against its scenario's targets (max_p99_ms, max_loss, every client
// connected): each check met or missed, and by how much.

#include "runner.hpp"

#include <string>
#include <vector>

namespace vigil::bench {

struct check {
    std::string what;  ///< "steady: p99", "storm 'connect': clients connected", ...
    bool met = false;
    std::string detail;  ///< the measured value, the target and the margin
};

/// Every check of `r`; caveats (the generator near a full core) come as met checks whose
/// detail says so, so they reach the report without deciding it.
[[nodiscard]] std::vector<check> verdict(const run_result& r);

/// True when every check is met.
[[nodiscard]] bool all_met(const std::vector<check>& checks);

/// "VERDICT: MET (n checks)" or "VERDICT: MISSED (k of n checks)", then a line per check.
[[nodiscard]] std::string verdict_text(const std::vector<check>& checks);

}  // namespace vigil::bench
