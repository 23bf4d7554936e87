#pragma once
/// What the sans-I/O session asks its driver (the broker connection) to do.

#include <vigil/core/error.hpp>
#include <vigil/core/message.hpp>
#include <vigil/mqtt/codec/packets.hpp>

#include <string>
#include <variant>
#include <vector>

namespace vigil::mqtt {

/// How a subscription was granted (see authorizer::may_subscribe).
enum class subscribe_grant : std::uint8_t { refused, checked, full };

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
/// `checked`: only some topics of the filter are readable, so every message delivered
/// through it must be checked.
struct add_subscription {
    std::string filter;
    qos q = qos::at_most_once;
    bool checked = false;
};

/// The client unsubscribed `filter`, which it held.
struct remove_subscription {
    std::string filter;
};

/// After the SUBACK: send the retained messages matching `filter` at most at `q` (when
/// `checked`, only those the client may read).
struct deliver_retained {
    std::string filter;
    qos q = qos::at_most_once;
    bool checked = false;
};

/// Persistent sessions only: a QoS 1/2 message entered the session or changed state; the
/// driver writes it to the store under (client id, seq), replacing what was there.
struct store_message {
    std::uint64_t seq = 0;
    message_ref msg;             ///< null once released (QoS 2 PUBREC received)
    qos q = qos::at_least_once;  ///< granted QoS
    bool retain = false;
    std::uint16_t packet_id = 0;  ///< 0: queued, not sent yet
    bool released = false;
};

/// Persistent sessions only: the message stored under `seq` left the session.
struct erase_message {
    std::uint64_t seq = 0;
};

/// Persistent sessions only: a QoS 2 packet id was received (present) or released.
struct store_inbound {
    std::uint16_t packet_id = 0;
    bool present = false;
};

/// Close the network connection; `reason` says whether the will goes out (publishes_will).
struct close_connection {
    error_code reason;
};

using action = std::variant<send_packet, send_publish, route_publish, add_subscription, remove_subscription,
                            deliver_retained, store_message, erase_message, store_inbound, close_connection>;

using action_list = std::vector<action>;

}  // namespace vigil::mqtt
