#pragma once
/// What the sans-I/O session asks its driver (the broker connection) to do.

#include <vigil/core/error.hpp>
#include <vigil/core/message.hpp>
#include <vigil/mqtt/codec/packets.hpp>

#include <string>
#include <variant>
#include <vector>

namespace vigil::mqtt {

/// Encode and send a control packet.
struct send_packet {
    packet p;
};

/// Send a PUBLISH of a shared, pre-encoded message.
struct send_publish {
    message_ref msg;
    qos q = qos::at_most_once;
    std::uint16_t packet_id = 0;
    bool dup = false;
    bool retain = false;
};

/// A PUBLISH received from the client, to hand to the router (and the retained store).
struct route_publish {
    message_ref msg;
};

/// The client subscribed `filter` (new or replaced); the driver updates the router.
struct add_subscription {
    std::string filter;
    qos q = qos::at_most_once;
};

/// The client unsubscribed `filter`, which it held.
struct remove_subscription {
    std::string filter;
};

/// After the SUBACK: send the retained messages matching `filter` at most at `q`.
struct deliver_retained {
    std::string filter;
    qos q = qos::at_most_once;
};

/// Close the network connection. `publish_will` is false only after DISCONNECT.
struct close_connection {
    error_code reason;
    bool publish_will = true;
};

using action = std::variant<
    send_packet,
    send_publish,
    route_publish,
    add_subscription,
    remove_subscription,
    deliver_retained,
    close_connection>;

using action_list = std::vector<action>;

}  // namespace vigil::mqtt
