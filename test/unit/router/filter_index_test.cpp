#include <vigil/router/filter_index.hpp>

#include <vigil/router/local_table.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>

using namespace vigil::router;

namespace {
std::set<std::pair<std::string, std::uint64_t>> matches(const index_writer& w, std::string_view topic) {
    std::set<std::pair<std::string, std::uint64_t>> out;
    w.current()->match(topic, [&](const index_node& n) { out.insert({n.filter, n.shard_mask}); });
    return out;
}
}  // namespace

TEST_CASE("router: add, match and remove across shards", "[router]") {
    index_writer w;
    w.add("devices/+/location", 0);
    w.add("devices/+/location", 3);
    w.add("devices/7/#", 1);
    w.add("#", 2);
    w.add("$SYS/#", 2);
    using set = std::set<std::pair<std::string, std::uint64_t>>;
    CHECK(matches(w, "devices/7/location") == set{{"devices/+/location", 0b1001}, {"devices/7/#", 0b10}, {"#", 0b100}});
    CHECK(matches(w, "devices/7") == set{{"devices/7/#", 0b10}, {"#", 0b100}});
    CHECK(matches(w, "devices/8/status") == set{{"#", 0b100}});
    CHECK(matches(w, "$SYS/uptime") == set{{"$SYS/#", 0b100}});
    w.remove("devices/+/location", 0);
    CHECK(matches(w, "devices/9/location") == set{{"devices/+/location", 0b1000}, {"#", 0b100}});
    w.remove("devices/+/location", 3);
    w.remove("#", 2);
    CHECK(matches(w, "devices/9/location").empty());
}

TEST_CASE("router: old snapshots stay valid and unchanged after writes", "[router]") {
    index_writer w;
    w.add("a/b", 0);
    const auto before = w.current();
    w.add("a/+", 1);
    w.remove("a/b", 0);
    int seen = 0;
    before->match("a/b", [&](const index_node& n) {
        CHECK(n.filter == "a/b");
        ++seen;
    });
    CHECK(seen == 1);
    CHECK(matches(w, "a/b") == std::set<std::pair<std::string, std::uint64_t>>{{"a/+", 0b10}});
}

TEST_CASE("router: removing the last filter prunes the trie", "[router]") {
    index_writer w;
    w.add("x/y/z", 0);
    w.remove("x/y/z", 0);
    CHECK(w.current()->root() == nullptr);
}

TEST_CASE("router: snapshot refreshes only when the version moved", "[router]") {
    index_writer w;
    snapshot s{w};
    const auto* first = s.current().get();
    CHECK(s.current().get() == first);
    w.add("t", 0);
    CHECK(s.current().get() != first);
}

TEST_CASE("router: local table reports first and last subscriber", "[router]") {
    local_table<int> t;
    CHECK(t.add("a/#", 1, vigil::qos::at_least_once));
    CHECK_FALSE(t.add("a/#", 2, vigil::qos::at_most_once));
    CHECK_FALSE(t.add("a/#", 1, vigil::qos::exactly_once));  // replaces
    REQUIRE(t.find("a/#")->size() == 2);
    CHECK(t.find("a/#")->at(0).q == vigil::qos::exactly_once);
    CHECK_FALSE(t.remove("a/#", 1));
    CHECK(t.remove("a/#", 2));
    CHECK(t.find("a/#") == nullptr);
}

TEST_CASE("router: readers match while a writer changes the index", "[router][concurrency]") {
    index_writer w;
    w.add("stable/+", 0);
    std::atomic<bool> done{false};
    std::atomic<long> matched{0};
    std::atomic<long> wrong{0};  // a match a reader should never see
    std::thread reader([&] {
        snapshot s{w};
        while (!done.load(std::memory_order_acquire)) {
            int stable = 0;
            int other = 0;
            s.current()->match("stable/x", [&](const index_node& n) { ++(n.filter == "stable/+" ? stable : other); });
            if (stable == 1 && other == 0) {
                matched.fetch_add(1, std::memory_order_relaxed);
            } else {
                wrong.fetch_add(1, std::memory_order_relaxed);
            }
            // A churned filter is either there or not, never another one in its place.
            s.current()->match("churn/7/x", [&](const index_node& n) {
                if (n.filter != "churn/7/+") {
                    wrong.fetch_add(1, std::memory_order_relaxed);
                }
            });
        }
    });
    // Churn at least 2,000 times and until the reader has matched 1,000 times concurrently.
    for (int i = 0; i < 2000 || matched.load(std::memory_order_relaxed) < 1000; ++i) {
        const std::string f = "churn/" + std::to_string(i % 50) + "/+";
        w.add(f, static_cast<unsigned>(i % 4));
        w.remove(f, static_cast<unsigned>(i % 4));
    }
    done.store(true, std::memory_order_release);
    reader.join();
    CHECK(wrong.load() == 0);
    CHECK(matches(w, "stable/x").size() == 1);
    CHECK(matches(w, "churn/1/x").empty());
}
