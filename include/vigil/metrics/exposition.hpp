#pragma once
/// `GET /metrics`: the broker's counters, the process and the TLS files' expiry in the Prometheus
/// text exposition format. Everything is gathered when scraped: the live path keeps plain
/// per-shard counters and pays nothing for the exposition.

#include <vigil/config/settings.hpp>
#include <vigil/mqtt/broker/broker.hpp>
#include <vigil/probe/probe.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::metrics {

/// The standard `process_*` values, read from /proc/self.
struct process_sample {
    double cpu_seconds = 0;
    std::uint64_t resident_bytes = 0;
    std::uint64_t virtual_bytes = 0;
    std::uint64_t open_fds = 0;  ///< counted within the last 30 s (counting is slow with many)
    std::uint64_t max_fds = 0;
    double start_time_seconds = 0;  ///< since the Unix epoch
};
/// Reads this process's sample; a value that cannot be read stays 0.
[[nodiscard]] process_sample sample_process();

/// When a TLS file a listener serves stops being valid.
struct tls_expiry {
    std::string kind;  ///< "certificate" (the served one), "ca" (the earliest in the bundle) or "crl" (its next update)
    std::string file;
    std::optional<double> expires_seconds;  ///< since the Unix epoch; nullopt: the file could not be read
};
/// Reads the certificate, CA bundle and CRL of every TLS listener (MQTT and HTTP) in `s`, each
/// file once.
[[nodiscard]] std::vector<tls_expiry> read_tls_expiry(const config::settings& s);

/// Everything a scrape shows.
struct snapshot {
    mqtt::broker_stats broker;
    std::vector<mqtt::bound_listener> listeners;  ///< the MQTT listeners, as broker::listeners()
    process_sample process;
    std::vector<tls_expiry> tls;
    std::optional<probe::stats> probe;  ///< nullopt: the probe is off
    /// The HTTP listeners: responses by status class (2xx..5xx) and HTTPS handshakes.
    std::array<std::uint64_t, 4> http_responses{};
    std::uint64_t https_handshakes = 0;
    std::uint64_t https_failures = 0;
    std::string version;
    double uptime_seconds = 0;
};

/// The text exposition (format 0.0.4) of `s`.
[[nodiscard]] std::string render(const snapshot& s);

/// The Content-Type of render()'s output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace vigil::metrics
