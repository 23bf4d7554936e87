#include <vigil/mqtt/session/deadlines.hpp>

#include <algorithm>

namespace vigil::mqtt {

deadlines::deadlines(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds packet_timeout,
                     time_point start) noexcept
    : packet_timeout_(packet_timeout), connect_due_(start + connect_timeout), last_rx_(start) {}

void deadlines::received(time_point now) noexcept { last_rx_ = now; }

void deadlines::accepted(std::chrono::seconds keep_alive) noexcept {
    accepted_ = true;
    keep_alive_ = keep_alive;
}

deadlines::time_point deadlines::packet_begun(time_point now) noexcept {
    if (!partial_since_) {
        partial_since_ = now;
    }
    return *partial_since_ + packet_timeout_;
}

void deadlines::packet_finished() noexcept { partial_since_.reset(); }

std::optional<deadlines::time_point> deadlines::keep_alive_due() const noexcept {
    if (!accepted_ || keep_alive_.count() == 0) {
        return std::nullopt;
    }
    return last_rx_ + keep_alive_ * 3 / 2;  // [MQTT-3.1.2-24]
}

std::optional<deadlines::time_point> deadlines::packet_due() const noexcept {
    if (!accepted_ || !partial_since_) {
        return std::nullopt;
    }
    return *partial_since_ + packet_timeout_;
}

deadlines::expiry deadlines::due(time_point now) const noexcept {
    if (!accepted_) {
        return now >= connect_due_ ? expiry::connect : expiry::none;
    }
    if (const auto p = packet_due(); p && now >= *p) {
        return expiry::unfinished_packet;
    }
    if (const auto k = keep_alive_due(); k && now >= *k) {
        return expiry::keep_alive;
    }
    return expiry::none;
}

std::optional<deadlines::time_point> deadlines::next() const noexcept {
    if (!accepted_) {
        return connect_due_;
    }
    const auto k = keep_alive_due();
    const auto p = packet_due();
    if (k && p) {
        return std::min(*k, *p);
    }
    return k ? k : p;
}

}  // namespace vigil::mqtt
