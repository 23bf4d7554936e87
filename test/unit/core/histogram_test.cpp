#include <vigil/core/histogram.hpp>

#include <catch2/catch.hpp>

#include <array>

namespace {
constexpr std::array<double, 3> bounds{1, 2, 4};
}  // namespace

TEST_CASE("histogram: a value counts in the first bucket whose bound it does not exceed", "[histogram]") {
    vigil::histogram<bounds> h;
    for (const double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 100.0}) {
        h.add(v);
    }
    CHECK(h.counts() == std::array<std::uint64_t, 4>{2, 2, 2, 2});
    CHECK(h.count() == 8);
    CHECK(h.sum() == Approx(116.5));
}

TEST_CASE("histogram: the duration bounds ascend", "[histogram]") {
    for (std::size_t i = 1; i < vigil::duration_bounds.size(); ++i) {
        CHECK(vigil::duration_bounds[i - 1] < vigil::duration_bounds[i]);
    }
}
