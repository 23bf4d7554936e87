#pragma once
/// The MQTT 3.1.1 broker: listeners, shards, sessions and routing, wired together.

#include <vigil/config/settings.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil::mqtt {

/// A bound listener, as the OS assigned it.
struct bound_listener {
    std::string address;
    std::uint16_t port = 0;
    bool tls = false;
};

/// Thread safety: construct, start and stop from one thread (main).
class broker {
public:
    explicit broker(const config::settings& s);
    ~broker();
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    /// Binds every listener and starts the shard threads.
    /// Errors: throws std::system_error naming the address that could not be bound.
    void start();

    [[nodiscard]] const std::vector<bound_listener>& listeners() const noexcept;

    /// Reloads the password file, the ACL and the TLS certificates, CA bundles and CRLs
    /// (SIGHUP). Established connections stay; a file that fails to load leaves the previous
    /// state in force and logs why.
    void reload();

    /// Closes listeners and connections, then stops the shards within `grace`.
    void stop(std::chrono::milliseconds grace);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::mqtt
