#pragma once
// What every load tool measures the same way: percentiles, a process's CPU time from /proc,
// and `--key value` command lines.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace vigil::bench {

/// The `p` quantile (0..1) of `v` in milliseconds (`v` holds microseconds; reorders it).
inline double percentile_ms(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) {
        return 0;
    }
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k] / 1000.0;
}

/// User + system CPU seconds of process `pid` so far; -1 when unknown.
inline double cpu_seconds(int pid) {
    if (pid <= 0) {
        return -1;
    }
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
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
    return ticks / 100.0;  // USER_HZ
}

/// `--key value` pairs and bare `--flag`s (those listed in `flags`); anything else prints
/// `usage` and exits with 2.
struct command_line {
    std::map<std::string, std::string> values;
    std::set<std::string> set_flags;

    command_line(int argc, char** argv, const std::set<std::string>& flags, const char* usage) {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a.rfind("--", 0) == 0 && flags.count(a.substr(2)) != 0) {
                set_flags.insert(a.substr(2));
            } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
                values[a.substr(2)] = argv[++i];
            } else {
                std::fputs(usage, stderr);
                std::exit(2);
            }
        }
    }

    template <class T>
    void get(const char* key, T& v) const {
        if (auto it = values.find(key); it != values.end()) {
            std::istringstream(it->second) >> v;
        }
    }
    [[nodiscard]] bool flag(const char* name) const { return set_flags.count(name) != 0; }
};

}  // namespace vigil::bench
