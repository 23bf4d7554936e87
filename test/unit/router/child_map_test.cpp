#include <vigil/router/child_map.hpp>

#include <vigil/router/filter_index.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace vigil::router;

TEST_CASE("router: the child map agrees with std::map over random changes, and old versions stay", "[router]") {
    const std::uint64_t seed = Catch::rngSeed();
    INFO("seed " << seed << " (replay with --rng-seed " << seed << ")");
    std::mt19937_64 rng{seed};
    child_map m;
    std::map<std::string, std::shared_ptr<const index_node>> ref;
    // A version kept from the middle must not see later changes.
    child_map kept;
    std::map<std::string, std::shared_ptr<const index_node>> kept_ref;
    for (int step = 0; step < 60000; ++step) {
        const std::string key = "veh-" + std::to_string(rng() % 20000);
        if (rng() % 3 == 0) {
            m = m.with(key, nullptr);
            ref.erase(key);
        } else {
            auto node = std::make_shared<index_node>();
            m = m.with(key, node);
            ref[key] = node;
        }
        REQUIRE(m.size() == ref.size());
        if (step == 30000) {
            kept = m;
            kept_ref = ref;
        }
    }
    for (int i = 0; i < 20000; ++i) {
        const std::string key = "veh-" + std::to_string(i);
        const auto it = ref.find(key);
        REQUIRE(m.find(key) == (it == ref.end() ? nullptr : it->second.get()));
        const auto kt = kept_ref.find(key);
        REQUIRE(kept.find(key) == (kt == kept_ref.end() ? nullptr : kt->second.get()));
    }
    CHECK(kept.size() == kept_ref.size());
    // Removing everything leaves an empty map; removing what is absent changes nothing.
    for (const auto& [k, v] : ref) {
        m = m.with(k, nullptr);
    }
    CHECK(m.empty());
    CHECK(m.with("absent", nullptr).empty());
    CHECK(m.find("") == nullptr);
    auto e = std::make_shared<index_node>();
    CHECK(m.with("", e).find("") == e.get());  // an empty level is a level like any other
}
