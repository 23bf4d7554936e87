#include <vigil/mqtt/session/read_gate.hpp>

#include <utility>

namespace vigil::mqtt {

bool read_gate::published(duration wait) noexcept {
    published_ = true;
    throttle_wait_ = wait;
    return wait > duration::zero();
}

read_gate::verdict read_gate::before_read(std::size_t pending_out, std::uint64_t acks_waiting,
                                          std::size_t store_backlog) noexcept {
    if (pending_out > max_outbound_) {
        slow_reader_ = true;
        return verdict::slow_reader;
    }
    if (acks_waiting >= max_waiting_acks) {
        acks_paused_ = true;
        return verdict::acks;
    }
    if (std::exchange(published_, false) && store_backlog > max_store_backlog) {
        return verdict::store_behind;
    }
    if (throttle_wait_ > duration::zero()) {
        return verdict::publish_rate;
    }
    return verdict::read;
}

read_gate::duration read_gate::take_throttle_wait() noexcept { return std::exchange(throttle_wait_, duration{}); }

bool read_gate::output_drained(std::size_t pending_out) noexcept {
    if (slow_reader_ && pending_out <= max_outbound_ / 2) {
        slow_reader_ = false;
        return true;
    }
    return false;
}

bool read_gate::acks_released(std::uint64_t acks_waiting) noexcept {
    if (acks_paused_ && acks_waiting <= max_waiting_acks / 2) {
        acks_paused_ = false;
        return true;
    }
    return false;
}

}  // namespace vigil::mqtt
