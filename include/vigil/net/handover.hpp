#pragma once
/// A connected socket passed from the HTTP front door to the broker once its upgrade to MQTT
/// over WebSocket (/mqtt) is done.

#include <vigil/net/gate.hpp>
#include <vigil/net/tls.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace vigil::net {

struct socket_handover {
    int fd = -1;
    bool v6 = false;
    std::unique_ptr<tls_session> tls;   ///< null on plain HTTP
    std::vector<std::uint8_t> pending;  ///< bytes read past the upgrade (WebSocket frames, decrypted)
    bool allow_anonymous = false;       ///< the listener admits clients without a verified username
    connection_gate::ticket ticket;     ///< the connection's place, taken when it was accepted
};

}  // namespace vigil::net
