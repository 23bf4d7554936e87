#include <vigil/service/notifier.hpp>

#include <vigil/core/log.hpp>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace vigil::service {

notifier::notifier() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        interval_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::microseconds{usec / 2});
        interval_ = std::max(*interval_, std::chrono::milliseconds{1});
    }
}

void notifier::ready(const std::string& status) {
    (void)sd_notify(0, fmt::format("READY=1\nSTATUS={}", status).c_str());
}

void notifier::stopping() { (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

void notifier::watchdog(const std::vector<unsigned>& stalled) {
    if (stalled.empty()) {
        if (std::exchange(withheld_, false)) {
            log::info("watchdog: every shard turns again; pinging systemd again");
        }
        (void)sd_notify(0, "WATCHDOG=1");
        return;
    }
    if (!std::exchange(withheld_, true)) {
        log::error(
            "watchdog: shard(s) {} stopped turning; withholding the watchdog ping (systemd restarts vigil when "
            "WatchdogSec passes)",
            fmt::join(stalled, ", "));
    }
}

}  // namespace vigil::service
