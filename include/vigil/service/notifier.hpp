#pragma once
/// systemd's service protocol (sd_notify, libsystemd): READY once recovery is done and the
/// listeners are open, STOPPING on the way down, and watchdog pings only while every shard
/// turns. Outside systemd (no NOTIFY_SOCKET) every call does nothing.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace vigil::service {

/// Thread safety: main thread only.
class notifier {
public:
    /// Reads systemd's watchdog period (WATCHDOG_USEC) from the environment.
    notifier();

    void ready(const std::string& status);
    void stopping();
    /// How often to call watchdog(): half of systemd's WatchdogSec; nullopt when it is off.
    [[nodiscard]] std::optional<std::chrono::milliseconds> watchdog_interval() const noexcept { return interval_; }
    /// Pings the watchdog, unless `stalled` names shards that stopped turning: then it logs
    /// them (once per stall) and withholds the ping, so systemd restarts a wedged Vigil.
    void watchdog(const std::vector<unsigned>& stalled);

private:
    std::optional<std::chrono::milliseconds> interval_;
    bool withheld_ = false;
};

}  // namespace vigil::service
