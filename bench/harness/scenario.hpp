#pragma once
// A vigil-bench scenario: what to simulate (devices, dashboards, subscribers), how long, and
// how to ramp or storm. Read from a TOML file in bench/scenarios/, with `--set key=value`
// overrides from the command line.

#include <string>
#include <vector>

namespace vigil::bench {

struct scenario {
    std::string name;
    std::string description;

    // Devices: each one MQTT connection publishing three streams, with a will.
    unsigned devices = 600;
    bool tls = false;
    double location_hz = 2;         ///< devices/{id}/location, QoS 0
    double status_interval_s = 30;  ///< devices/{id}/status, QoS 1 retained (0 = never)
    double events_per_min = 1;      ///< devices/{id}/events, QoS 1 (0 = none)
    unsigned payload_bytes = 96;    ///< JSON payload size of each message
    bool will = true;               ///< "offline" on devices/{id}/status, QoS 1 retained
    double churn_per_s = 0;         ///< devices dropping and reconnecting per second

    // Dashboards: WebSockets on /ws (JSON push), each watching `watch` devices (0 = all).
    unsigned dashboards = 0;
    unsigned watch = 0;
    std::vector<std::string> dashboard_streams{"location", "status", "events"};

    // MQTT subscribers (backend services): each subscribed to every device's chosen streams.
    unsigned subscribers = 0;
    int subscriber_qos = 1;
    std::vector<std::string> subscriber_streams{"location", "status", "events"};

    double seconds = 10;        ///< measured time per step
    double warmup_seconds = 1;  ///< publishing before measuring starts

    // Ramp: the location rate grows by `factor` per step until p99 > max_p99_ms or loss;
    // then `refine_steps` more bisect (geometrically) between the last rate that held and
    // the first that did not, so the maximum is not quantised by the factor.
    bool ramp = false;
    double ramp_factor = 1.4;
    double max_p99_ms = 50;
    double max_loss = 0.001;
    unsigned max_steps = 30;
    unsigned refine_steps = 2;

    // Connect storms: every device connects at once (and reconnects after a mass drop),
    // spread over jitter_ms (0 = all at once).
    bool storm = false;
    std::vector<unsigned> storm_jitter_ms{0};

    std::vector<std::string> overrides;  ///< the --set assignments applied, for the report

    /// Applies `key=value` (a key of the file, e.g. `devices=5000` or `ramp=true`).
    /// Errors: throws std::runtime_error naming the key.
    void set(const std::string& assignment);
};

/// Errors: throws std::runtime_error naming the file and the key.
[[nodiscard]] scenario load_scenario(const std::string& path);

/// Stream index of a name ("location" 0, "status" 1, "events" 2). Errors: throws.
[[nodiscard]] int stream_index(const std::string& name);

}  // namespace vigil::bench
