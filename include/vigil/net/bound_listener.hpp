#pragma once

#include <cstdint>
#include <string>

namespace vigil::net {

/// A bound listener (MQTT or HTTP), as the OS assigned it: its port, when 0 was asked for.
struct bound_listener {
    std::string address;
    std::uint16_t port = 0;
    bool tls = false;
};

}  // namespace vigil::net
