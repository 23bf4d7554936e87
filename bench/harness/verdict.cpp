#include "verdict.hpp"

#include <algorithm>
#include <cstdio>

namespace vigil::bench {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
template <class... A>
std::string format(const char* f, A... a) {
    char b[256];
    std::snprintf(b, sizeof b, f, a...);
    return b;
}
#pragma GCC diagnostic pop

/// `value` against an upper bound `limit`: met with what margin, or missed by how much.
check at_most(std::string what, double value, double limit, const char* unit, double scale = 1) {
    const double v = value * scale;
    const double l = limit * scale;
    const bool met = value <= limit;
    const double margin = std::abs(l - v);
    const std::string pct = l > 0 ? format(" (%.0f %%)", 100.0 * margin / l) : std::string{};
    return {std::move(what), met,
            format("%.3f %s, target <= %.3f %s: ", v, unit, l, unit) +
                (met ? format("met, %.3f %s", margin, unit) + pct + " to spare"
                     : format("missed by %.3f %s", margin, unit) + pct)};
}

double generator_cores(const step_record& s) {
    double sum = 0;
    for (const auto& g : s.generator) {
        sum += g.cpu;
    }
    return s.generator.empty() ? 0 : sum / static_cast<double>(s.generator.size());
}

}  // namespace

std::vector<check> verdict(const run_result& r) {
    std::vector<check> out;
    const auto connected = [&out](const storm_record& s) {
        out.push_back({"'" + s.label + "': clients connected", s.failed == 0,
                       format("%u of %u in %.2f s", s.clients - s.failed, s.clients, s.all_connected_s) +
                           (s.failed == 0 ? "" : format(": %u failed", s.failed))});
    };
    if (r.setup.clients > 0) {
        connected(r.setup);
    }
    for (const auto& s : r.storms) {
        connected(s);
    }
    if (r.sc.ramp) {
        out.push_back({"ramp: a rate held within the bounds", r.best_step >= 0,
                       r.best_step >= 0 ? format("step '%s' held p99 %.2f ms and loss %.3f %%",
                                                 r.steps[static_cast<std::size_t>(r.best_step)].label.c_str(),
                                                 step_p99(r.steps[static_cast<std::size_t>(r.best_step)]),
                                                 100 * step_loss(r.steps[static_cast<std::size_t>(r.best_step)]))
                                        : format("the first step already broke p99 <= %g ms or loss <= %g %%",
                                                 r.sc.max_p99_ms, 100 * r.sc.max_loss)});
    } else {
        for (const auto& s : r.steps) {
            out.push_back(at_most("'" + s.label + "': p99 latency", step_p99(s), r.sc.max_p99_ms, "ms"));
            out.push_back(at_most("'" + s.label + "': loss", step_loss(s), r.sc.max_loss, "%", 100));
        }
    }
    for (const auto& s : r.steps) {
        if (generator_cores(s) > 0.9) {
            out.push_back({"'" + s.label + "': caveat", true,
                           format("the generator used %.2f cores: it, not the server, may have been the limit",
                                  generator_cores(s))});
        }
    }
    return out;
}

bool all_met(const std::vector<check>& checks) {
    return std::all_of(checks.begin(), checks.end(), [](const check& c) { return c.met; });
}

std::string verdict_text(const std::vector<check>& checks) {
    std::size_t missed = 0;
    std::string lines;
    for (const auto& c : checks) {
        missed += c.met ? 0 : 1;
        lines += std::string{"  "} + (c.met ? "met     " : "MISSED  ") + c.what + ": " + c.detail + "\n";
    }
    return (missed == 0 ? "VERDICT: MET (" + std::to_string(checks.size()) + " checks)\n"
                        : "VERDICT: MISSED (" + std::to_string(missed) + " of " + std::to_string(checks.size()) +
                              " checks)\n") +
           lines;
}

}  // namespace vigil::bench
