#pragma once
/// The 14 MQTT 3.1.1 control packets as plain values.
/// Decoded packets borrow the decoder's input: string views and spans stay valid only
/// until the caller drops the consumed bytes.

#include <vigil/core/message.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil::mqtt {

enum class packet_type : std::uint8_t {
    connect = 1,
    connack,
    publish,
    puback,
    pubrec,
    pubrel,
    pubcomp,
    subscribe,
    suback,
    unsubscribe,
    unsuback,
    pingreq,
    pingresp,
    disconnect,
};

/// CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
enum class connect_code : std::uint8_t {
    accepted = 0,
    unacceptable_protocol_version = 1,
    identifier_rejected = 2,
    server_unavailable = 3,
    bad_username_or_password = 4,
    not_authorized = 5,
};

constexpr std::uint8_t suback_failure = 0x80;

struct will_spec {
    std::string_view topic;
    std::span<const std::uint8_t> payload;
    qos q = qos::at_most_once;
    bool retain = false;
};

struct connect_packet {
    std::string_view protocol_name = "MQTT";
    std::uint8_t protocol_level = 4;
    bool clean_session = true;
    std::uint16_t keep_alive = 0;
    std::string_view client_id;
    std::optional<will_spec> will;
    std::optional<std::string_view> username;
    std::optional<std::span<const std::uint8_t>> password;
};

struct connack_packet {
    bool session_present = false;
    connect_code code = connect_code::accepted;
};

struct publish_packet {
    std::string_view topic;
    std::span<const std::uint8_t> payload;
    qos q = qos::at_most_once;
    bool retain = false;
    bool dup = false;
    std::uint16_t packet_id = 0;  ///< 0 iff q == at_most_once
};

struct puback_packet {
    std::uint16_t packet_id = 0;
};
struct pubrec_packet {
    std::uint16_t packet_id = 0;
};
struct pubrel_packet {
    std::uint16_t packet_id = 0;
};
struct pubcomp_packet {
    std::uint16_t packet_id = 0;
};

struct subscription_request {
    std::string_view filter;
    qos q = qos::at_most_once;
};

struct subscribe_packet {
    std::uint16_t packet_id = 0;
    std::vector<subscription_request> topics;
};

struct suback_packet {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> return_codes;  ///< granted QoS, or suback_failure
};

struct unsubscribe_packet {
    std::uint16_t packet_id = 0;
    std::vector<std::string_view> filters;
};

struct unsuback_packet {
    std::uint16_t packet_id = 0;
};
struct pingreq_packet {};
struct pingresp_packet {};
struct disconnect_packet {};

using packet = std::variant<connect_packet, connack_packet, publish_packet, puback_packet, pubrec_packet, pubrel_packet,
                            pubcomp_packet, subscribe_packet, suback_packet, unsubscribe_packet, unsuback_packet,
                            pingreq_packet, pingresp_packet, disconnect_packet>;

/// The packet type of a packet value.
[[nodiscard]] packet_type type_of(const packet& p) noexcept;

}  // namespace vigil::mqtt
