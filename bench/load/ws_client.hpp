#pragma once
// A dashboard of the load generator: a WebSocket on /ws (JSON push protocol v1) subscribed to
// one filter, timing every message it receives (payloads written by load_client's JSON mode).

#include "load_client.hpp"

#include <memory>
#include <string>

namespace vigil::bench {

class ws_client : public std::enable_shared_from_this<ws_client> {
public:
    ws_client(asio::io_context& ioc, tcp::endpoint ep, observations* obs, std::size_t publishers);
    ~ws_client();

    /// Connects, upgrades, subscribes to `filter`; `done` once the snapshot arrived.
    void start(const std::string& filter, std::function<void()> done);
    void close();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::bench
