#pragma once
/// A token bucket for rate limits: `rate` tokens per second, at most `burst` saved up.
/// Thread safety: distinct objects safe, shared objects unsafe.

#include <algorithm>
#include <chrono>

namespace vigil {

class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    /// rate <= 0 means unlimited.
    token_bucket(double rate, double burst) noexcept : rate_(rate), burst_(burst), tokens_(burst) {}

    [[nodiscard]] bool unlimited() const noexcept { return rate_ <= 0; }

    /// Takes one token; false (and nothing taken) when the bucket is empty.
    [[nodiscard]] bool try_take(clock::time_point now) noexcept {
        if (unlimited()) {
            return true;
        }
        refill(now);
        if (tokens_ < 1) {
            return false;
        }
        tokens_ -= 1;
        return true;
    }

    /// Takes one token even into debt; returns how long until the balance is positive again
    /// (zero when there was a token).
    [[nodiscard]] clock::duration take(clock::time_point now) noexcept {
        if (unlimited()) {
            return clock::duration::zero();
        }
        refill(now);
        tokens_ -= 1;
        if (tokens_ >= 0) {
            return clock::duration::zero();
        }
        return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(-tokens_ / rate_));
    }

private:
    void refill(clock::time_point now) noexcept {
        if (last_ != clock::time_point{}) {
            tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
        }
        last_ = now;
    }

    double rate_;
    double burst_;
    double tokens_;
    clock::time_point last_{};
};

}  // namespace vigil
