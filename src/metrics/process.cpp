// process_* from /proc/self, as Prometheus' client libraries report them.

#include <vigil/metrics/exposition.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

namespace vigil::metrics {
namespace {

/// Seconds since the epoch at which the machine booted (/proc/stat "btime"), 0 if unknown.
double boot_time() {
    std::ifstream in{"/proc/stat"};
    std::string key;
    double value = 0;
    while (in >> key) {
        if (key == "btime") {
            in >> value;
            return value;
        }
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return 0;
}

std::uint64_t count_fds() {
    std::uint64_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator{"/proc/self/fd", ec};
         !ec && it != std::filesystem::directory_iterator{}; it.increment(ec)) {
        ++n;
    }
    return n;
}

/// Listing /proc/self/fd costs the kernel about 1-3 ms per thousand descriptors (16 ms of a
/// scrape at 9,000 connections): a scrape reports the count made within the last 30 s and,
/// when it is older, has a thread of its own count again, so no scrape waits for it (the
/// first one counts itself). Only these atomics are shared with that thread.
std::atomic<std::uint64_t> fds_counted{0};
std::atomic<std::int64_t> fds_counted_at{-1};  // steady clock, s; -1: never
std::atomic<bool> fds_counting{false};

std::uint64_t open_fds() {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const auto at = fds_counted_at.load(std::memory_order_acquire);
    if (at < 0) {
        fds_counted.store(count_fds(), std::memory_order_relaxed);
        fds_counted_at.store(now, std::memory_order_release);
    } else if (now - at >= 30 && !fds_counting.exchange(true, std::memory_order_acq_rel)) {
        try {
            std::thread([] {
                fds_counted.store(count_fds(), std::memory_order_relaxed);
                const auto done = std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count();
                fds_counted_at.store(done, std::memory_order_release);
                fds_counting.store(false, std::memory_order_release);
            }).detach();
        } catch (const std::system_error&) {
            fds_counting.store(
                false, std::memory_order_release);  // no thread now (a thread limit): the next scrape tries again
        }
    }
    return fds_counted.load(std::memory_order_relaxed);
}

}  // namespace

process_sample sample_process() {
    process_sample p;
    std::ifstream in{"/proc/self/stat"};
    const std::string line{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    // Fields after the command name, which is in parentheses and may hold spaces.
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
        std::istringstream rest{line.substr(close + 2)};
        std::string field;
        const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
        const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
        // Field 3 (state) is the first here; utime and stime are 14 and 15, starttime 22,
        // vsize 23, rss 24 (proc(5)).
        for (int n = 3; n <= 24 && rest >> field; ++n) {
            if (n == 14 || n == 15) {
                p.cpu_seconds += std::stod(field) / tick;
            } else if (n == 22) {
                p.start_time_seconds = boot_time() + std::stod(field) / tick;
            } else if (n == 23) {
                p.virtual_bytes = std::stoull(field);
            } else if (n == 24) {
                p.resident_bytes = std::stoull(field) * page;
            }
        }
    }
    p.open_fds = open_fds();
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        p.max_fds = lim.rlim_cur;
    }
    return p;
}

}  // namespace vigil::metrics
