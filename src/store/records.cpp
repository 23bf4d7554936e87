#include <vigil/store/records.hpp>

#include <vigil/core/big_endian.hpp>
#include <vigil/core/topic.hpp>

namespace vigil::store {
namespace {

using big_endian::append_u16;
using big_endian::append_u64;
using big_endian::load_u16;
using big_endian::load_u64;

constexpr std::uint8_t message_format = 1;
constexpr std::uint8_t queue_format = 1;
constexpr std::uint8_t session_format_unbound = 1;  // no owner (read only)
constexpr std::uint8_t session_format = 2;

}  // namespace

std::string client_prefix(std::string_view client_id) {
    std::string k;
    k.reserve(2 + client_id.size() + 8);
    append_u16(k, static_cast<std::uint16_t>(client_id.size()));
    k.append(client_id);
    return k;
}

std::optional<client_key> split_client_key(std::string_view key) noexcept {
    if (key.size() < 2) {
        return std::nullopt;
    }
    const std::size_t len = load_u16(key);
    if (key.size() < 2 + len) {
        return std::nullopt;
    }
    return client_key{key.substr(2, len), key.substr(2 + len)};
}

std::string subscription_key(std::string_view client_id, std::string_view filter) {
    std::string k = client_prefix(client_id);
    k.append(filter);
    return k;
}

std::string queue_key(std::string_view client_id, std::uint64_t seq) {
    std::string k = client_prefix(client_id);
    append_u64(k, seq);
    return k;
}

std::string inbound_key(std::string_view client_id, std::uint16_t packet_id) {
    std::string k = client_prefix(client_id);
    append_u16(k, packet_id);
    return k;
}

std::optional<std::uint64_t> decode_u64(std::string_view rest) noexcept {
    if (rest.size() != 8) {
        return std::nullopt;
    }
    return load_u64(rest);
}

std::optional<std::uint16_t> decode_u16(std::string_view rest) noexcept {
    if (rest.size() != 2) {
        return std::nullopt;
    }
    return load_u16(rest);
}

// [format][flags: qos | retain << 2][time_ms: 8][topic length: 2][topic][payload]
std::string encode_message(const message& m) {
    std::string v;
    v.reserve(12 + m.topic().size() + m.payload().size());
    v.push_back(static_cast<char>(message_format));
    v.push_back(static_cast<char>(static_cast<unsigned>(m.published_qos()) | (m.retain() ? 4u : 0u)));
    append_u64(v, static_cast<std::uint64_t>(m.time_ms()));
    append_u16(v, static_cast<std::uint16_t>(m.topic().size()));
    v.append(m.topic());
    v.append(reinterpret_cast<const char*>(m.payload().data()), m.payload().size());
    return v;
}

message_ref decode_message(std::string_view v) {
    if (v.size() < 12 || static_cast<std::uint8_t>(v[0]) != message_format) {
        return nullptr;
    }
    const auto flags = static_cast<std::uint8_t>(v[1]);
    const unsigned q = flags & 3u;
    if (q > 2 || (flags & ~7u) != 0) {
        return nullptr;
    }
    const auto time_ms = static_cast<std::int64_t>(load_u64(v.substr(2)));
    const std::size_t topic_len = load_u16(v.substr(10));
    if (v.size() < 12 + topic_len) {
        return nullptr;
    }
    const std::string_view topic = v.substr(12, topic_len);
    if (!topic::valid_name(topic)) {
        return nullptr;
    }
    const std::string_view payload = v.substr(12 + topic_len);
    return message::make(topic, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                         static_cast<qos>(q), (flags & 4u) != 0, time_ms);
}

// [format][granted qos][flags: retain | released << 1][packet id: 2][message, unless released]
std::string encode_queue_record(const queue_record& r) {
    std::string v;
    v.push_back(static_cast<char>(queue_format));
    v.push_back(static_cast<char>(r.q));
    v.push_back(static_cast<char>((r.retain ? 1u : 0u) | (r.released ? 2u : 0u)));
    append_u16(v, r.packet_id);
    if (!r.released) {
        v.append(encode_message(*r.msg));
    }
    return v;
}

std::optional<queue_record> decode_queue_record(std::string_view v) {
    if (v.size() < 5 || static_cast<std::uint8_t>(v[0]) != queue_format) {
        return std::nullopt;
    }
    queue_record r;
    const auto q = static_cast<std::uint8_t>(v[1]);
    const auto flags = static_cast<std::uint8_t>(v[2]);
    if (q < 1 || q > 2 || (flags & ~3u) != 0) {
        return std::nullopt;
    }
    r.q = static_cast<qos>(q);
    r.retain = (flags & 1u) != 0;
    r.released = (flags & 2u) != 0;
    r.packet_id = load_u16(v.substr(3));
    if (r.released) {
        if (v.size() != 5 || r.packet_id == 0) {
            return std::nullopt;
        }
        return r;
    }
    r.msg = decode_message(v.substr(5));
    if (!r.msg) {
        return std::nullopt;
    }
    return r;
}

// [format 2][owner length: 2][owner][has will][will message]; format 1 had no owner fields.
std::string encode_session_record(const session_record& r) {
    const std::string_view owner = r.owner ? std::string_view{*r.owner} : std::string_view{};
    std::string v;
    v.push_back(static_cast<char>(session_format));
    append_u16(v, static_cast<std::uint16_t>(owner.size()));
    v.append(owner);
    v.push_back(static_cast<char>(r.will ? 1 : 0));
    if (r.will) {
        v.append(encode_message(*r.will));
    }
    return v;
}

std::optional<session_record> decode_session_record(std::string_view v) {
    if (v.empty()) {
        return std::nullopt;
    }
    session_record r;
    const auto format = static_cast<std::uint8_t>(v[0]);
    v.remove_prefix(1);
    if (format == session_format) {
        if (v.size() < 2) {
            return std::nullopt;
        }
        const std::size_t len = load_u16(v);
        if (v.size() < 2 + len) {
            return std::nullopt;
        }
        r.owner = std::string{v.substr(2, len)};
        v.remove_prefix(2 + len);
    } else if (format != session_format_unbound) {
        return std::nullopt;
    }
    if (v.empty() || static_cast<std::uint8_t>(v[0]) > 1) {
        return std::nullopt;
    }
    if (v[0] == 1) {
        r.will = decode_message(v.substr(1));
        if (!r.will) {
            return std::nullopt;
        }
    } else if (v.size() != 1) {
        return std::nullopt;
    }
    return r;
}

}  // namespace vigil::store
