#pragma once
/// SIGHUP: what the configuration file, read again, changes in a running Vigil. Pure: the
/// caller applies `next` and reports `needs_restart`.

#include <vigil/config/settings.hpp>

#include <string>
#include <vector>

namespace vigil::config {

struct reload_plan {
    /// The settings in force with every change that applies without a restart.
    settings next;
    /// What changed and needs a restart (left as it was), by key or section: "listener",
    /// "http.listener", "limits", "workers", ... in file order.
    std::vector<std::string> needs_restart;
};

/// Compares the settings in force with the file's. Applied live: `log_level`, `log_format`; each listener's
/// (MQTT and HTTP) `tls.*` while the listener stays TLS (or plain) at the same address;
/// `auth.password_file` while one is configured; `auth.acl_file` set or changed (removing it
/// needs a restart: it would open every topic); `http.tokens_file` and `http.tokens`.
/// Everything else needs a restart.
[[nodiscard]] reload_plan plan_reload(const settings& running, const settings& fresh);

}  // namespace vigil::config
