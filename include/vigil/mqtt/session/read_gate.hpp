#pragma once
/// Whether a connection reads on, decided without I/O. Vigil keeps no more of what a client
/// sends than one read's worth: to slow a client down it stops reading and lets TCP push back.
/// It stops when
/// - the peer does not read what is sent to it: more than `max_outbound_bytes` held for it
///   (it resumes once half has gone out);
/// - in durable mode, `max_waiting_acks` acknowledgements wait for the store (resumes at half);
/// - the store is more than `max_store_backlog` behind and the client has published since the
///   last look: it looks again after `store_retry` (subscribers are read on: their
///   acknowledgements are what drains queues);
/// - the client is over `max_publish_rate`: processing stops after the PUBLISH that took the
///   last token, and reading waits until the bucket has one again.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace vigil::mqtt {

/// Thread safety: none; one per connection, used on its shard.
class read_gate {
public:
    using duration = std::chrono::steady_clock::duration;
    /// Read, or why not.
    enum class verdict : std::uint8_t { read, slow_reader, acks, store_behind, publish_rate };

    static constexpr std::uint64_t max_waiting_acks = 1024;
    static constexpr std::size_t max_store_backlog = std::size_t{64} << 20;
    static constexpr std::chrono::milliseconds store_retry{10};

    explicit read_gate(std::size_t max_outbound_bytes) noexcept : max_outbound_(max_outbound_bytes) {}

    /// A PUBLISH was taken in; `wait` is how long until the next is within the publish rate
    /// (zero: at once). Returns true when processing must stop after it.
    bool published(duration wait) noexcept;
    /// Before the next read. After `publish_rate`, the connection waits
    /// take_throttle_wait() and asks again.
    [[nodiscard]] verdict before_read(std::size_t pending_out, std::uint64_t acks_waiting,
                                      std::size_t store_backlog) noexcept;
    /// The wait a `publish_rate` verdict asks for; the next before_read does not ask it again.
    [[nodiscard]] duration take_throttle_wait() noexcept;
    /// Output went out and `pending_out` bytes are left: true when a `slow_reader` pause ends.
    [[nodiscard]] bool output_drained(std::size_t pending_out) noexcept;
    /// Acknowledgements went out and `acks_waiting` are left: true when an `acks` pause ends.
    [[nodiscard]] bool acks_released(std::uint64_t acks_waiting) noexcept;

private:
    std::size_t max_outbound_;
    bool slow_reader_ = false;  // paused: resumes at half of max_outbound_
    bool acks_paused_ = false;  // paused: resumes at half of max_waiting_acks
    bool published_ = false;    // a PUBLISH since the last look at the store
    duration throttle_wait_{};
};

}  // namespace vigil::mqtt
