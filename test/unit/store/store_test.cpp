// The store against a real RocksDB database in a temporary directory.
#include <vigil/store/store.hpp>

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace vigil::store;
namespace fs = std::filesystem;
using vigil::test::temp_dir;

namespace {

std::map<std::string, std::string> dump(const store& s, family f) {
    std::map<std::string, std::string> out;
    s.for_each(f, [&](std::string_view k, std::string_view v) { out.emplace(k, v); });
    return out;
}

/// Submits and waits for the completion.
bool commit(store& s, write_batch b) {
    std::promise<bool> p;
    auto f = p.get_future();
    s.submit(std::move(b), [&p](bool ok) { p.set_value(ok); });
    return f.get();
}

}  // namespace

TEST_CASE("the store keeps what was committed across a reopen", "[store]") {
    temp_dir d{"store-test"};
    {
        auto s = store::open({d.path, true});
        write_batch b;
        b.put(family::retained, "devices/1/status", "online");
        b.put(family::retained, "devices/2/status", "offline");
        b.put(family::queue, "k1", "v1");
        REQUIRE(commit(*s, std::move(b)));
        write_batch b2;
        b2.erase(family::retained, "devices/2/status");
        REQUIRE(commit(*s, std::move(b2)));
        CHECK(s->healthy());
    }
    auto s = store::open({d.path, true});
    CHECK(dump(*s, family::retained) == std::map<std::string, std::string>{{"devices/1/status", "online"}});
    CHECK(dump(*s, family::queue).size() == 1);
    CHECK(dump(*s, family::sessions).empty());
}

TEST_CASE("erase_prefix removes one client's range and nothing else", "[store]") {
    temp_dir d{"store-test"};
    auto s = store::open({d.path, false});
    write_batch b;
    b.put(family::subscriptions,
          std::string{"\x00\x03"
                      "abc"
                      "x/1",
                      8},
          "1");
    b.put(family::subscriptions,
          std::string{"\x00\x03"
                      "abc"
                      "x/2",
                      8},
          "1");
    b.put(family::subscriptions,
          std::string{"\x00\x04"
                      "abcd"
                      "x/1",
                      9},
          "1");
    REQUIRE(commit(*s, std::move(b)));
    write_batch e;
    e.erase_prefix(family::subscriptions, std::string{"\x00\x03"
                                                      "abc",
                                                      5});
    REQUIRE(commit(*s, std::move(e)));
    const auto left = dump(*s, family::subscriptions);
    REQUIRE(left.size() == 1);
    CHECK(left.begin()->first == std::string{"\x00\x04"
                                             "abcd"
                                             "x/1",
                                             9});
}

TEST_CASE("completions run in submission order when threads submit concurrently", "[store]") {
    temp_dir d{"store-test"};
    auto s = store::open({d.path, true});
    constexpr int threads = 4;
    constexpr int per_thread = 200;
    std::mutex mu;
    std::vector<int> order;
    std::atomic<int> failed{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::vector<std::future<void>> waits;
            for (int i = 0; i < per_thread; ++i) {
                write_batch b;
                b.put(family::queue, "t" + std::to_string(t) + "-" + std::to_string(i), "v");
                auto p = std::make_shared<std::promise<void>>();
                waits.push_back(p->get_future());
                s->submit(std::move(b), [&, t, i, p](bool ok) {
                    if (!ok) {
                        ++failed;
                    }
                    {
                        const std::lock_guard lock{mu};
                        order.push_back(t * per_thread + i);
                    }
                    p->set_value();
                });
            }
            for (auto& w : waits) {
                w.get();
            }
        });
    }
    for (auto& t : ts) {
        t.join();
    }
    CHECK(failed == 0);
    REQUIRE(order.size() == threads * per_thread);
    // Each thread's batches complete in the order it submitted them.
    for (int t = 0; t < threads; ++t) {
        int last = -1;
        for (const int v : order) {
            if (v / per_thread == t) {
                CHECK(v > last);
                last = v;
            }
        }
    }
    const auto st = s->stats();
    CHECK(st.batches == threads * per_thread);
    CHECK(st.ops == threads * per_thread);
    CHECK(dump(*s, family::queue).size() == threads * per_thread);
}

TEST_CASE("batches queued while a commit is under way are written as one group commit", "[store]") {
    temp_dir d{"store-test"};
    auto s = store::open({d.path, true});
    // The first batch's completion runs on the store thread and holds it, so every batch
    // submitted meanwhile is queued; released, the thread must write them all in one commit.
    std::promise<void> first_done;
    std::promise<void> release;
    auto released = release.get_future().share();
    write_batch first;
    first.put(family::queue, "first", "v");
    first.set_sync(false);
    s->submit(std::move(first), [&first_done, released](bool) {
        first_done.set_value();
        released.wait();
    });
    first_done.get_future().wait();
    constexpr int queued = 100;
    std::vector<std::future<bool>> waits;
    for (int i = 0; i < queued; ++i) {
        write_batch b;
        b.put(family::queue, "q" + std::to_string(i), "v");
        auto p = std::make_shared<std::promise<bool>>();
        waits.push_back(p->get_future());
        s->submit(std::move(b), [p](bool ok) { p->set_value(ok); });
    }
    release.set_value();
    for (auto& w : waits) {
        CHECK(w.get());
    }
    const auto st = s->stats();
    CHECK(st.batches == queued + 1);
    CHECK(st.commits == 2);
    CHECK(st.syncs == 1);
    CHECK(dump(*s, family::queue).size() == queued + 1);
}

TEST_CASE("linked batches are written together; batches queued behind an incomplete group wait", "[store]") {
    temp_dir d{"store-test"};
    auto s = store::open({d.path, true});
    const auto commits_before = s->stats().commits;
    std::mutex mu;
    std::vector<std::string> done;
    std::vector<std::future<void>> waits;
    auto submit = [&](const std::string& name, std::optional<std::uint32_t> parts) {
        write_batch b;
        b.put(family::queue, name, "v");
        if (parts) {
            b.link(42, *parts);
        }
        auto p = std::make_shared<std::promise<void>>();
        waits.push_back(p->get_future());
        s->submit(std::move(b), [&, name, p](bool ok) {
            CHECK(ok);
            const std::lock_guard lock{mu};
            done.push_back(name);
            p->set_value();
        });
    };
    submit("a", 2);             // one part of group 42
    submit("b", std::nullopt);  // behind it
    // Neither may be written before the group's other part is queued.
    CHECK(waits[0].wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
    CHECK(waits[1].wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
    CHECK(dump(*s, family::queue).empty());
    submit("c", 2);  // the other part
    for (auto& w : waits) {
        w.get();
    }
    CHECK(done == std::vector<std::string>{"a", "b", "c"});
    CHECK(s->stats().commits == commits_before + 1);  // one write
    CHECK(dump(*s, family::queue).size() == 3);
}

TEST_CASE("a group still missing parts is written when the store stops", "[store]") {
    temp_dir d{"store-test"};
    {
        auto s = store::open({d.path, true});
        write_batch b;
        b.put(family::queue, "k", "v");
        b.link(7, 3);
        std::promise<bool> p;
        auto f = p.get_future();
        s->submit(std::move(b), [&p](bool ok) { p.set_value(ok); });
        s->stop();
        REQUIRE(f.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
        CHECK(f.get());
    }
    auto s = store::open({d.path, true});
    CHECK(dump(*s, family::queue).size() == 1);
}

TEST_CASE("a data_dir in use by another store is refused with what to do", "[store]") {
    temp_dir d{"store-test"};
    auto s = store::open({d.path, true});
    try {
        (void)store::open({d.path, true});
        FAIL("opened a locked database");
    } catch (const store_error& e) {
        const std::string what = e.what();
        CHECK(what.find(d.path.string()) != std::string::npos);
        CHECK(what.find("another vigil process") != std::string::npos);
    }
}

TEST_CASE("a data_dir that cannot be created is refused with its path", "[store]") {
    temp_dir d{"store-test"};
    fs::create_directories(d.path);
    std::ofstream{d.path / "file"} << "not a directory";
    const fs::path bad = d.path / "file" / "var";
    try {
        (void)store::open({bad, true});
        FAIL("opened a store under a regular file");
    } catch (const store_error& e) {
        CHECK(std::string{e.what()}.find(bad.string()) != std::string::npos);
    }
}

TEST_CASE("check reports counts on a healthy store and fails on a damaged one", "[store]") {
    temp_dir d{"store-test"};
    {
        auto s = store::open({d.path, true});
        write_batch b;
        for (int i = 0; i < 100; ++i) {
            b.put(family::retained, "t/" + std::to_string(i), std::string(100, 'x'));
        }
        REQUIRE(commit(*s, std::move(b)));
    }
    const auto good = check(d.path);
    CHECK(good.ok);
    CHECK(good.text.find("retained       100 entries") != std::string::npos);

    const auto missing = check(d.path / "nothing-here");
    CHECK_FALSE(missing.ok);
    CHECK(missing.text.find("no vigil store") != std::string::npos);

    // Damage the WAL and every table file: overwrite their middles with garbage.
    for (const auto& e : fs::directory_iterator(d.path)) {
        const auto ext = e.path().extension();
        if (ext == ".log" || ext == ".sst") {
            std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
            const auto size = fs::file_size(e.path());
            f.seekp(static_cast<std::streamoff>(size / 3));
            const std::string junk(static_cast<std::size_t>(size / 3) + 1, '\x5a');
            f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
        }
    }
    bool refused = false;
    try {
        auto s = store::open({d.path, true});
        // Opening may succeed when the damage is in data not yet read: reading must fail.
        s->for_each(family::retained, [](std::string_view, std::string_view) {});
    } catch (const store_error& e) {
        refused = true;
        CHECK(std::string{e.what()}.find(d.path.string()) != std::string::npos);
    }
    CHECK(refused);
    CHECK_FALSE(check(d.path).ok);
}
