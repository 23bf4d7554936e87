#pragma once
/// Observations counted by bucket, the shape of a Prometheus histogram. Plain numbers: its
/// owner (one thread, or under its own lock) adds to it; a copy is the snapshot a scrape shows.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace vigil {

/// `Bounds` are the buckets' upper bounds, ascending (a static constexpr array of double).
/// `counts()[i]` counts the values in (Bounds[i-1], Bounds[i]]; the last count, the values
/// above every bound.
template <const auto& Bounds>
class histogram {
public:
    static constexpr const auto& bounds = Bounds;
    static constexpr std::size_t buckets = Bounds.size() + 1;

    void add(double v) noexcept {
        ++counts_[static_cast<std::size_t>(std::lower_bound(Bounds.begin(), Bounds.end(), v) - Bounds.begin())];
        sum_ += v;
    }

    [[nodiscard]] const std::array<std::uint64_t, buckets>& counts() const noexcept { return counts_; }
    [[nodiscard]] double sum() const noexcept { return sum_; }
    [[nodiscard]] std::uint64_t count() const noexcept {
        std::uint64_t n = 0;
        for (const auto c : counts_) {
            n += c;
        }
        return n;
    }

private:
    std::array<std::uint64_t, buckets> counts_{};
    double sum_ = 0;
};

/// Durations in seconds, 100 us to 10 s: store commits and fsyncs, password checks, loop lag.
inline constexpr std::array<double, 16> duration_bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

}  // namespace vigil
