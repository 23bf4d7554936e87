// The archive against a real RocksDB database in a temporary directory.
#include <vigil/archive/archive.hpp>

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

using namespace vigil::archive;
using vigil::qos;
using vigil::test::temp_dir;

namespace {

options at(const std::filesystem::path& dir) {
    options o;
    o.dir = dir;
    return o;
}

constexpr std::int64_t day = 86'400'000;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A message received at `t`, as a shard hands it over.
entry rec(const std::string& topic, std::int64_t t, const std::string& payload = "{}") {
    const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
    return {vigil::message::make(topic, bytes, qos::at_least_once, false, t), "car-client"};
}

bool all(std::string_view) { return true; }

query q(std::string filter, std::int64_t from, std::int64_t to, std::size_t limit = 1000, bool desc = false) {
    query x;
    x.filter = std::move(filter);
    x.from_ms = from;
    x.to_ms = to;
    x.limit = limit;
    x.descending = desc;
    return x;
}

std::vector<std::int64_t> times(const page& p) {
    std::vector<std::int64_t> out;
    for (const auto& r : p.records) {
        out.push_back(r.time_ms);
    }
    return out;
}

}  // namespace

TEST_CASE("archive: a topic's records come back by time range, both ways, with every field", "[archive]") {
    temp_dir d{"archive-test"};
    auto a = archive::open(at(d.path));
    const std::int64_t t0 = now_ms() - 10'000;
    std::vector<entry> batch;
    for (int i = 0; i < 10; ++i) {
        batch.push_back(rec("devices/car-1/location", t0 + i * 100, "{\"i\":" + std::to_string(i) + "}"));
    }
    batch.push_back(rec("devices/car-2/location", t0 + 50));
    a->append(batch);  // a copy: batch is compared with below
    a->flush();
    const auto asc = a->read(q("devices/car-1/location", t0 + 200, t0 + 600), all);
    CHECK(times(asc) == std::vector<std::int64_t>{t0 + 200, t0 + 300, t0 + 400, t0 + 500});
    CHECK(!asc.next);
    REQUIRE(!asc.records.empty());
    const auto& r = asc.records.front();
    CHECK(r.topic == "devices/car-1/location");
    CHECK(r.seq == batch[2].msg->origin().seq);
    CHECK(r.q == qos::at_least_once);
    CHECK(r.client_id == "car-client");
    CHECK(r.payload == "{\"i\":2}");
    const auto desc = a->read(q("devices/car-1/location", t0, t0 + 10'000, 3, true), all);
    CHECK(times(desc) == std::vector<std::int64_t>{t0 + 900, t0 + 800, t0 + 700});
    CHECK(desc.next.has_value());
    CHECK(a->stats().written == 11);
}

TEST_CASE("archive: a filter merges its topics in time order and leaves out what may not be read", "[archive]") {
    temp_dir d{"archive-test"};
    auto a = archive::open(at(d.path));
    const std::int64_t t0 = now_ms() - 10'000;
    a->append({rec("devices/car-1/events", t0 + 30), rec("devices/car-2/events", t0 + 10),
               rec("devices/car-3/events", t0 + 20), rec("devices/car-1/location", t0 + 15),
               rec("devices/car-10/events", t0 + 40), rec("devices/car-1", t0 + 5)});
    a->flush();
    const auto p = a->read(q("devices/+/events", t0, t0 + 100), all);
    CHECK(times(p) == std::vector<std::int64_t>{t0 + 10, t0 + 20, t0 + 30, t0 + 40});
    const auto hidden =
        a->read(q("devices/+/events", t0, t0 + 100), [](std::string_view t) { return t != "devices/car-2/events"; });
    CHECK(times(hidden) == std::vector<std::int64_t>{t0 + 20, t0 + 30, t0 + 40});
    const auto all_of_car1 = a->read(q("devices/car-1/#", t0, t0 + 100), all);
    CHECK(times(all_of_car1) == std::vector<std::int64_t>{t0 + 5, t0 + 15, t0 + 30});
}

TEST_CASE("archive: filters find every topic of a day from its catalogue, across batches, restores and reopens",
          "[archive]") {
    temp_dir d{"archive-test"};
    const std::int64_t t0 = now_ms() - 10'000;
    {
        auto a = archive::open(at(d.path));
        a->append({rec("devices/car-1/events", t0 + 1), rec("devices/car-2/events", t0 + 2)});
        a->flush();
        a->append({rec("devices/car-2/events", t0 + 3), rec("devices/abcdefgh/evts", t0 + 4)});  // a 16-byte topic
        a->stop();
    }
    auto a = archive::open(at(d.path));  // its writer knows no topic yet
    a->append({rec("devices/car-3/events", t0 + 5), rec("devices/car-1/events", t0 + 6)});
    a->flush();
    const entry restored = rec("devices/car-4/events", t0 + 7);
    CHECK(a->restore({encode(*restored.msg, restored.client_id)}));
    CHECK(times(a->read(q("devices/+/events", t0, t0 + 100), all)) ==
          std::vector<std::int64_t>{t0 + 1, t0 + 2, t0 + 3, t0 + 5, t0 + 6, t0 + 7});
    CHECK(times(a->read(q("#", t0, t0 + 100), all)).size() == 7);
    CHECK(times(a->read(q("devices/abcdefgh/#", t0, t0 + 100), all)) == std::vector<std::int64_t>{t0 + 4});
    a->stop();
    const auto report = check(d.path);
    CHECK(report.ok);
    CHECK(report.text.find(" 7 records") != std::string::npos);
    CHECK(report.text.find(", 5 topics") != std::string::npos);
}

TEST_CASE(
    "archive: a day written without a catalogue (an older version) is still read by filters; a topic missing from one "
    "is damage",
    "[archive]") {
    temp_dir d{"archive-test"};
    const std::int64_t t0 = now_ms() - 10'000;
    {
        auto a = archive::open(at(d.path));
        a->append({rec("devices/car-1/events", t0 + 1), rec("devices/car-2/events", t0 + 2),
                   rec("devices/car-2/location", t0 + 3)});
        a->stop();
    }
    const auto edit = [&](const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle*)>& change) {
        std::vector<std::string> names;
        REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, d.path.string(), &names).ok());
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        for (const auto& n : names) {
            cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
        }
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* raw = nullptr;
        REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions{}, d.path.string(), cfs, &handles, &raw).ok());
        std::unique_ptr<rocksdb::DB> db{raw};
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (names[i] != rocksdb::kDefaultColumnFamilyName) {
                change(*db, handles[i]);
            }
            REQUIRE(db->DestroyColumnFamilyHandle(handles[i]).ok());
        }
    };
    edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
        REQUIRE(db.Delete(rocksdb::WriteOptions{}, cf, std::string{"\0devices/car-2/events", 21}).ok());
    });
    auto damaged = check(d.path);
    CHECK(!damaged.ok);
    CHECK(damaged.text.find("1 topics missing from the day's catalogue") != std::string::npos);
    // Without its marker the day is read by seeking from topic to topic: nothing is missed.
    edit([](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
        REQUIRE(db.Delete(rocksdb::WriteOptions{}, cf, std::string{"\0", 1}).ok());
    });
    const auto legacy = check(d.path);
    CHECK(legacy.ok);
    CHECK(legacy.text.find("no topic catalogue") != std::string::npos);
    auto a = archive::open(at(d.path));
    CHECK(times(a->read(q("devices/+/events", t0, t0 + 100), all)) == std::vector<std::int64_t>{t0 + 1, t0 + 2});
    CHECK(times(a->read(q("#", t0, t0 + 100), all)) == std::vector<std::int64_t>{t0 + 1, t0 + 2, t0 + 3});
}

TEST_CASE("archive: pages joined by cursors return every record once, in order", "[archive]") {
    const std::uint64_t seed = Catch::rngSeed();
    INFO("seed " << seed << " (replay with --rng-seed " << seed << ")");
    std::mt19937_64 rng{seed};
    temp_dir d{"archive-test"};
    auto a = archive::open(at(d.path));
    // Two days back, so records fall into three partitions.
    const std::int64_t t0 = (now_ms() / day - 2) * day + day / 2;
    std::vector<entry> batch;
    std::set<std::tuple<std::int64_t, std::string, std::uint64_t>> want;
    for (int i = 0; i < 2000; ++i) {
        const std::string topic = "devices/car-" + std::to_string(rng() % 20) + "/events";
        const std::int64_t t = t0 + static_cast<std::int64_t>(rng() % (2 * day));
        batch.push_back(rec(topic, t));
        want.emplace(t, topic, batch.back().msg->origin().seq);
    }
    a->append(batch);
    a->flush();
    for (const bool desc : {false, true}) {
        const std::size_t limit = 1 + rng() % 300;
        query x = q("devices/+/events", t0, t0 + 2 * day, limit, desc);
        std::vector<std::tuple<std::int64_t, std::string, std::uint64_t>> got;
        for (int pages = 0; pages < 5000; ++pages) {
            const auto p = a->read(x, all);
            CHECK(p.records.size() <= limit);
            for (const auto& r : p.records) {
                got.emplace_back(r.time_ms, r.topic, r.seq);
            }
            if (!p.next) {
                break;
            }
            x.after = p.next;
        }
        std::vector<std::tuple<std::int64_t, std::string, std::uint64_t>> expected(want.begin(), want.end());
        if (desc) {
            std::reverse(expected.begin(), expected.end());
        }
        CHECK(got == expected);
    }
}

TEST_CASE("archive: the same message written twice is one record, and records survive a reopen", "[archive]") {
    temp_dir d{"archive-test"};
    const std::int64_t t0 = now_ms() - 1000;
    {
        auto a = archive::open(at(d.path));
        const entry once = rec("devices/car-1/status", t0, "online");
        a->append({once});
        a->append({once});
        a->stop();  // writes what is pending
    }
    auto a = archive::open(at(d.path));
    const auto p = a->read(q("devices/car-1/status", t0 - 1, t0 + 1), all);
    REQUIRE(p.records.size() == 1);
    CHECK(p.records[0].payload == "online");
}

TEST_CASE("archive: staged records are reported once written, and a restore writes them under their own keys",
          "[archive]") {
    temp_dir d{"archive-test"};
    const std::int64_t t0 = now_ms() - 1000;
    std::vector<std::string> reported;
    entry staged = rec("devices/car-1/events", t0, "{\"n\":1}");
    staged.staged = true;
    const entry plain = rec("devices/car-1/events", t0 + 1, "{\"n\":2}");
    const encoded copy = encode(*staged.msg, staged.client_id);  // what the hot store keeps
    {
        options o = at(d.path);
        o.on_staged_written = [&](std::vector<std::string> keys) {
            reported.insert(reported.end(), keys.begin(), keys.end());
        };
        auto a = archive::open(o);
        a->append({staged, plain});
        a->flush();
        CHECK(reported == std::vector<std::string>{copy.key});  // only the staged one
        a->stop();
    }
    // After a crash the store gives its copy back: written again, it is still one record.
    auto a = archive::open(at(d.path));
    CHECK(a->restore({copy}));
    const auto p = a->read(q("devices/car-1/events", t0 - 1, t0 + 10), all);
    REQUIRE(p.records.size() == 2);
    CHECK(p.records[0].payload == "{\"n\":1}");
    CHECK(p.records[0].client_id == "car-client");
    CHECK(p.records[0].seq == staged.msg->origin().seq);
    // A record the store staged but the archive never saw is written by the restore.
    const entry lost = rec("devices/car-2/events", t0 + 2, "{\"n\":3}");
    CHECK(a->restore({encode(*lost.msg, lost.client_id)}));
    CHECK(a->read(q("devices/car-2/events", t0 - 1, t0 + 10), all).records.size() == 1);
}

TEST_CASE("archive: retention drops whole days and queries say where kept history starts", "[archive]") {
    temp_dir d{"archive-test"};
    options o = at(d.path);
    o.retention = std::chrono::hours{24 * 3};
    auto a = archive::open(o);
    const std::int64_t now = now_ms();
    a->append({rec("devices/car-1/location", now - 10 * day), rec("devices/car-1/location", now - 5 * day),
               rec("devices/car-1/location", now - 1000)});
    a->flush();  // retention runs after every write
    const auto p = a->read(q("devices/car-1/location", now - 20 * day, now), all);
    CHECK(times(p) == std::vector<std::int64_t>{now - 1000});
    CHECK(p.kept_from_ms > now - 5 * day);
    CHECK(p.kept_from_ms <= now - 3 * day + day);
    CHECK(a->stats().partitions_dropped == 2);
    // A record older than what is kept is not written back.
    a->append({rec("devices/car-1/location", now - 9 * day)});
    a->flush();
    CHECK(a->read(q("devices/car-1/location", now - 20 * day, now), all).records.size() == 1);
}

TEST_CASE("archive: over max_bytes the oldest days are dropped whole, never today, and queries say so", "[archive]") {
    temp_dir d{"archive-test"};
    options o = at(d.path);
    o.retention = std::chrono::milliseconds{0};  // kept forever: only the size cap drops
    o.max_bytes = 1;                             // every day but today is over it
    auto a = archive::open(o);
    const std::int64_t now = now_ms();
    a->append({rec("devices/car-1/location", now - 3 * day), rec("devices/car-1/location", now - 2 * day),
               rec("devices/car-1/location", now - 1000)});
    a->flush();
    const auto p = a->read(q("devices/car-1/location", now - 5 * day, now), all);
    CHECK(times(p) == std::vector<std::int64_t>{now - 1000});  // today stays, however large
    CHECK(p.kept_from_ms > now - 2 * day);                     // the caller learns that older data is gone
    CHECK(p.kept_from_ms <= now);
    CHECK(a->stats().partitions_dropped == 2);
}

TEST_CASE("archive: beyond max_pending_bytes records are dropped and counted, never queued without bound",
          "[archive]") {
    temp_dir d{"archive-test"};
    options o = at(d.path);
    o.flush_interval = std::chrono::hours{1};  // nothing is written until flush()
    o.max_pending_bytes = 4096;
    auto a = archive::open(o);
    const std::int64_t t0 = now_ms();
    for (std::int64_t i = 0; i < 100; ++i) {
        a->append({rec("devices/car-1/location", t0 + i, std::string(100, 'x'))});
    }
    const auto s = a->stats();
    CHECK(s.appended == 100);
    CHECK(s.dropped > 0);
    CHECK(s.pending_bytes <= 4096);
    a->flush();
    CHECK(a->stats().written + a->stats().dropped == 100);
}

TEST_CASE("archive: cursors round-trip and reject what is not one", "[archive]") {
    const position p{1700000000123, "devices/car-7/location", 42};
    const auto back = decode_cursor(encode_cursor(p));
    REQUIRE(back);
    CHECK(std::tie(back->time_ms, back->topic, back->seq) == std::tie(p.time_ms, p.topic, p.seq));
    CHECK(!decode_cursor(""));
    CHECK(!decode_cursor("zz"));
    CHECK(!decode_cursor(std::string(32, '0')));  // no topic
    CHECK(!decode_cursor(encode_cursor(p) + "0"));
    CHECK(!decode_cursor(encode_cursor(p).replace(0, 1, "G")));
}
