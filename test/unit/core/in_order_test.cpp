// Values handed on in sequence order, whatever order they arrive in (acks across shards).
#include <vigil/core/in_order.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

using vigil::in_order;

TEST_CASE("in_order: an early value waits for those before it", "[core][in_order]") {
    in_order<int> q;
    std::vector<int> out;
    const auto take = [&](int v) { out.push_back(v); };
    q.arrive(2, 20, take);
    q.arrive(3, 30, take);
    CHECK(out.empty());
    CHECK(q.waiting() == 2);
    q.arrive(1, 10, take);  // releases 1, 2, 3 at once
    CHECK(out == std::vector<int>{10, 20, 30});
    CHECK(q.waiting() == 0);
    q.arrive(4, 40, take);  // in turn: at once
    CHECK(out.back() == 40);
}

TEST_CASE("in_order: any arrival order comes out in sequence", "[core][in_order]") {
    const std::uint64_t seed = Catch::rngSeed();
    INFO("seed " << seed << " (replay with --rng-seed " << seed << ")");
    std::mt19937_64 rng{seed};
    for (int round = 0; round < 100; ++round) {
        std::vector<std::uint64_t> seqs(1 + rng() % 200);
        std::iota(seqs.begin(), seqs.end(), 1);
        std::shuffle(seqs.begin(), seqs.end(), rng);
        in_order<std::uint64_t> q;
        std::vector<std::uint64_t> out;
        std::vector<bool> arrived(seqs.size() + 1);
        for (const auto s : seqs) {
            q.arrive(s, s * 10, [&](std::uint64_t v) { out.push_back(v); });
            arrived[s] = true;
            // Out: exactly the numbers before the smallest that has not arrived.
            std::size_t first_missing = 1;
            while (first_missing < arrived.size() && arrived[first_missing]) {
                ++first_missing;
            }
            CHECK(out.size() == first_missing - 1);
        }
        REQUIRE(out.size() == seqs.size());
        for (std::size_t i = 0; i < out.size(); ++i) {
            CHECK(out[i] == (i + 1) * 10);
        }
    }
}
