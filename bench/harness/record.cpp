#include "record.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

namespace vigil::bench {

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
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

double quantile_ms(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) {
        return 0;
    }
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k] / 1000.0;
}

bool process_probe::valid() const { return cpu_seconds() >= 0; }

double process_probe::cpu_seconds() const {
    if (pid_ == 0) {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos) {
        return -1;
    }
    std::istringstream in(s.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14 || i == 15) {
            ticks += std::stod(field);  // utime, stime
        }
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
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
