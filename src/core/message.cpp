#include <vigil/core/message.hpp>

#include <atomic>
#include <chrono>
#include <cstring>

namespace vigil {
namespace {
// relaxed: both are identifiers, not synchronisation; uniqueness comes from the RMW.
std::atomic<std::uint32_t> g_node_id{0};
std::atomic<std::uint64_t> g_next_seq{1};
}  // namespace

void message::set_node_id(std::uint32_t node) noexcept { g_node_id.store(node, std::memory_order_relaxed); }

std::size_t encode_remaining_length(std::size_t value, std::uint8_t* out) noexcept {
    std::size_t n = 0;
    do {
        auto byte = static_cast<std::uint8_t>(value % 128);
        value /= 128;
        if (value > 0) {
            byte = static_cast<std::uint8_t>(byte | 0x80u);
        }
        out[n++] = byte;
    } while (value > 0);
    return n;
}

message::message(private_tag, std::size_t buffer_size) : buf_(new std::uint8_t[buffer_size]) {}

message::~message() = default;

message_ref message::make(std::string_view topic, std::span<const std::uint8_t> payload, qos q, bool retain) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return make(topic, payload, q, retain, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

message_ref message::make(std::string_view topic, std::span<const std::uint8_t> payload, qos q, bool retain,
                          std::int64_t time_ms) {
    // Layout: [prefix qos0][prefix qos1/2][payload][padding]; each prefix is
    // remaining length (<= 4 bytes) + 2-byte topic length + topic.
    const std::size_t prefix_max = 4 + 2 + topic.size();
    const std::size_t size = 2 * prefix_max + payload.size() + payload_padding;
    auto m = std::make_shared<message>(private_tag{}, size);
    std::uint8_t* p = m->buf_.get();
    std::size_t off = 0;
    for (std::size_t with_pid = 0; with_pid < 2; ++with_pid) {
        const std::size_t remaining = 2 + topic.size() + (with_pid ? 2 : 0) + payload.size();
        m->prefix_off_[with_pid] = static_cast<std::uint32_t>(off);
        std::size_t n = encode_remaining_length(remaining, p + off);
        p[off + n++] = static_cast<std::uint8_t>(topic.size() >> 8);
        p[off + n++] = static_cast<std::uint8_t>(topic.size() & 0xFF);
        if (with_pid == 0) {
            m->topic_off_ = static_cast<std::uint32_t>(off + n);
        }
        std::memcpy(p + off + n, topic.data(), topic.size());
        n += topic.size();
        m->prefix_len_[with_pid] = static_cast<std::uint8_t>(n - topic.size());
        off += n;
    }
    m->topic_len_ = static_cast<std::uint32_t>(topic.size());
    m->payload_off_ = static_cast<std::uint32_t>(off);
    m->payload_len_ = static_cast<std::uint32_t>(payload.size());
    if (!payload.empty()) {
        std::memcpy(p + off, payload.data(), payload.size());
    }
    std::memset(p + off + payload.size(), 0, payload_padding);
    m->qos_ = q;
    m->retain_ = retain;
    m->time_ms_ = time_ms;
    m->origin_ = {g_node_id.load(std::memory_order_relaxed), g_next_seq.fetch_add(1, std::memory_order_relaxed)};
    return m;
}

std::string_view message::topic() const noexcept {
    return {reinterpret_cast<const char*>(buf_.get() + topic_off_), topic_len_};
}

std::span<const std::uint8_t> message::payload() const noexcept { return {buf_.get() + payload_off_, payload_len_}; }

std::span<const std::uint8_t> message::publish_prefix(qos q) const noexcept {
    const std::size_t i = q == qos::at_most_once ? 0 : 1;
    return {buf_.get() + prefix_off_[i], std::size_t{prefix_len_[i]} + topic_len_};
}

std::size_t message::wire_size(qos q) const noexcept {
    return 1 + publish_prefix(q).size() + (q == qos::at_most_once ? 0 : 2) + payload_len_;
}

std::uint8_t message::first_byte(qos q, bool dup, bool retain) noexcept {
    return static_cast<std::uint8_t>(0x30u | (dup ? 0x08u : 0u) | (static_cast<unsigned>(q) << 1) | (retain ? 1u : 0u));
}

}  // namespace vigil
