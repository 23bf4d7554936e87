#pragma once
// A browser dashboard of the generator: a WebSocket on /ws (JSON push protocol v1) subscribed to
// some devices' streams, timing every message it receives.

#include "peer.hpp"

#include <memory>
#include <string>
#include <vector>

namespace vigil::bench {

class dashboard : public std::enable_shared_from_this<dashboard> {
public:
    /// `token`: the API token it presents ("" : none).
    dashboard(asio::io_context& ioc, tcp::endpoint ep, recipient* r, std::string token = {});
    ~dashboard();
    dashboard(const dashboard&) = delete;
    dashboard& operator=(const dashboard&) = delete;

    /// Connects, upgrades, subscribes to `filters`; `done(ok, microseconds)` once the whole
    /// snapshot arrived.
    void start(std::vector<std::string> filters, std::function<void(bool, std::uint32_t)> done);
    void close();
    /// Why it failed (the first reason), or "".
    [[nodiscard]] const std::string& error() const noexcept;

    struct impl;

private:
    void read();
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::bench
