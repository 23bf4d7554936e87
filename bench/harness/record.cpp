#include "record.hpp"

#include <algorithm>
#include <fstream>

#include <sys/resource.h>

namespace vigil::bench {

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void path_record::add(std::int64_t sent_ns, std::int64_t now, std::int64_t t0, int stream) {
    const auto second = static_cast<std::size_t>(std::max<std::int64_t>(0, now - t0) / 1'000'000'000);
    if (latency_us_by_second.size() <= second) {
        latency_us_by_second.resize(second + 1);
    }
    latency_us_by_second[second].push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, now - sent_ns) / 1000));
    ++received[static_cast<std::size_t>(stream)];
}

std::vector<std::uint32_t> path_record::all_latencies() const {
    std::vector<std::uint32_t> all;
    for (const auto& s : latency_us_by_second) {
        all.insert(all.end(), s.begin(), s.end());
    }
    return all;
}

bool process_probe::valid() const { return cpu_seconds() >= 0; }

double process_probe::cpu_seconds() const {
    if (pid_ == 0) {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    return bench::cpu_seconds(pid_);
}

double process_probe::rss_mib() const {
    std::ifstream f(pid_ == 0 ? std::string{"/proc/self/status"} : "/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stod(line.substr(6)) / 1024.0;
        }
    }
    return 0;
}

process_sample process_probe::sample(double t) {
    const auto now = std::chrono::steady_clock::now();
    const double cpu = cpu_seconds();
    process_sample s;
    s.t = t;
    s.rss_mib = rss_mib();
    if (last_cpu_ >= 0 && cpu >= 0) {
        const double wall = std::chrono::duration<double>(now - last_at_).count();
        s.cpu = wall > 0 ? (cpu - last_cpu_) / wall : 0;
    }
    last_cpu_ = cpu;
    last_at_ = now;
    return s;
}

}  // namespace vigil::bench
