#include <vigil/core/sync.hpp>
#include <vigil/net/gate.hpp>

#include <utility>

namespace vigil::net {

connection_gate::connection_gate(std::size_t max_total, std::size_t max_per_address)
    : max_total_(max_total), max_per_address_(max_per_address) {}

std::optional<connection_gate::ticket> connection_gate::admit(const std::string& address, refusal& why) {
    why = refusal::none;
    if (open_.load(std::memory_order_relaxed) >= max_total_) {
        why = refusal::total;
        return std::nullopt;
    }
    if (max_per_address_ > 0) {
        const lock_guard lock{mu_};
        std::size_t& n = by_address_[address];
        if (n >= max_per_address_) {
            why = refusal::per_address;
            return std::nullopt;
        }
        ++n;
    }
    open_.fetch_add(1, std::memory_order_relaxed);
    return ticket{this, max_per_address_ > 0 ? address : std::string{}};
}

std::string connection_gate::describe(refusal why) const {
    return why == refusal::per_address ? "over max_connections_per_address (" + std::to_string(max_per_address_) + ")"
                                       : "over max_connections (" + std::to_string(max_total_) + ")";
}

connection_gate::ticket::ticket(ticket&& o) noexcept
    : gate_(std::exchange(o.gate_, nullptr)), address_(std::move(o.address_)) {}

connection_gate::ticket& connection_gate::ticket::operator=(ticket&& o) noexcept {
    if (this != &o) {
        release();
        gate_ = std::exchange(o.gate_, nullptr);
        address_ = std::move(o.address_);
    }
    return *this;
}

connection_gate::ticket::~ticket() { release(); }

void connection_gate::ticket::release() noexcept {
    if (gate_ == nullptr) {
        return;
    }
    if (gate_->max_per_address_ > 0) {
        const lock_guard lock{gate_->mu_};
        const auto it = gate_->by_address_.find(address_);
        if (it != gate_->by_address_.end() && --it->second == 0) {
            gate_->by_address_.erase(it);
        }
    }
    gate_->open_.fetch_sub(1, std::memory_order_relaxed);
    gate_ = nullptr;
}

}  // namespace vigil::net
