#pragma once
/// Admission of new connections, shared by every listener (MQTT, MQTT over TLS, HTTP, and the
/// WebSockets upgraded from it): a bound on open connections in all, and one per remote
/// address. A connection holds a ticket for as long as it is open, whatever it becomes (an HTTP
/// request upgraded to /ws or /mqtt keeps its place), and across shards.

#include <vigil/core/sync.hpp>

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

namespace vigil::net {

/// Thread safety: safe.
class connection_gate {
public:
    /// `max_per_address` 0: no bound per address.
    connection_gate(std::size_t max_total, std::size_t max_per_address);
    connection_gate(const connection_gate&) = delete;
    connection_gate& operator=(const connection_gate&) = delete;

    /// One admitted connection's place; given back when destroyed. Move-only.
    class ticket {
    public:
        ticket() = default;
        ticket(ticket&& o) noexcept;
        ticket& operator=(ticket&& o) noexcept;
        ticket(const ticket&) = delete;
        ticket& operator=(const ticket&) = delete;
        ~ticket();

        [[nodiscard]] bool valid() const noexcept { return gate_ != nullptr; }

    private:
        friend class connection_gate;
        ticket(connection_gate* g, std::string address) : gate_(g), address_(std::move(address)) {}
        void release() noexcept;

        connection_gate* gate_ = nullptr;
        std::string address_;  ///< empty when addresses are not counted
    };

    /// Why admit() refused.
    enum class refusal : unsigned char { none, total, per_address };

    /// A place for a connection from `address` (its IP, without the port), or nullopt with
    /// `why` set when a bound is reached.
    [[nodiscard]] std::optional<ticket> admit(const std::string& address, refusal& why);
    /// For logs: "over max_connections (N)" or "over max_connections_per_address (N)".
    [[nodiscard]] std::string describe(refusal why) const;

    [[nodiscard]] std::size_t open() const noexcept { return open_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t max_total() const noexcept { return max_total_; }
    [[nodiscard]] std::size_t max_per_address() const noexcept { return max_per_address_; }

private:
    const std::size_t max_total_;
    const std::size_t max_per_address_;
    // relaxed: a bound, not synchronisation; a brief overshoot by a concurrent accept or two
    // is harmless. The per-address counts are exact (under mu_).
    std::atomic<std::size_t> open_{0};
    mutex mu_;
    std::unordered_map<std::string, std::size_t> by_address_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::net
