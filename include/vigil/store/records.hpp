#pragma once
/// Key and value encodings of the store's column families. Plain bytes in, plain bytes out;
/// every decoder rejects what it did not write (a corrupt value is reported, never guessed).

#include <vigil/core/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::store {

/// Keys of per-client families start with the client id, length-prefixed (u16 big-endian),
/// so one client's keys form one range and no id is a prefix of another's.
[[nodiscard]] std::string client_prefix(std::string_view client_id);
/// A key's client id and what follows it; nullopt when the key is malformed.
struct client_key {
    std::string_view client_id;
    std::string_view rest;
};
[[nodiscard]] std::optional<client_key> split_client_key(std::string_view key) noexcept;

[[nodiscard]] std::string subscription_key(std::string_view client_id, std::string_view filter);
[[nodiscard]] std::string queue_key(std::string_view client_id, std::uint64_t seq);
[[nodiscard]] std::string inbound_key(std::string_view client_id, std::uint16_t packet_id);
/// The sequence number or packet id in `rest` of a queue or inbound key.
[[nodiscard]] std::optional<std::uint64_t> decode_u64(std::string_view rest) noexcept;
[[nodiscard]] std::optional<std::uint16_t> decode_u16(std::string_view rest) noexcept;

/// A message: flags, wall-clock time, topic, payload.
[[nodiscard]] std::string encode_message(const message& m);
[[nodiscard]] message_ref decode_message(std::string_view v);

/// A QoS 1/2 message held by a persistent session.
struct queue_record {
    qos q = qos::at_least_once;  ///< granted QoS
    bool retain = false;
    std::uint16_t packet_id = 0;  ///< 0: not sent yet
    bool released = false;        ///< QoS 2 PUBREC received, PUBREL sent: no message kept
    message_ref msg;              ///< null iff released
};
[[nodiscard]] std::string encode_queue_record(const queue_record& r);
[[nodiscard]] std::optional<queue_record> decode_queue_record(std::string_view v);

/// A persistent session: the identity it belongs to and its will, if it has one.
struct session_record {
    message_ref will;
    /// The verified username or certificate identity that created the session ("" for an
    /// anonymous client); nullopt in records written before sessions were bound (format 1).
    std::optional<std::string> owner;
};
[[nodiscard]] std::string encode_session_record(const session_record& r);
[[nodiscard]] std::optional<session_record> decode_session_record(std::string_view v);

}  // namespace vigil::store
