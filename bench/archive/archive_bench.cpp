// vigil-archive-bench: the history archive on its own, for capacity planning.
//
//   vigil-archive-bench DIR [--devices N] [--hours H] [--queries Q] [--seed S] [--query-only START_MS]
//
// Fills a new archive in DIR with N devices reporting a JSON position every second for the H
// hours before now (plus an event a minute each), handing records to the archive writer as
// shards do (batches of 10,000), and reports the writer's rate. Then it times, on the archive
// it made: one device's whole track (Q random devices), one hour of devices/+/events for every
// device (Q random hours), and an export of every position (records/s), and the bytes per
// record on disk. Messages are made before the clock starts, so the rate is the writer's.
// Queries are timed twice: right after the archive is opened again, while RocksDB still merges
// what the writing left, and once that has finished.
// With --query-only, DIR is an archive this tool made earlier (its first line says the start):
// only the queries and the export are timed again.
#include <vigil/archive/archive.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>

namespace {

using clock_type = std::chrono::steady_clock;
using vigil::archive::archive;

struct options {
    std::filesystem::path dir;
    int devices = 1000;
    int hours = 24;
    int queries = 20;
    std::uint32_t seed = std::random_device{}();
    std::int64_t query_only_start = 0;  ///< the start of an existing archive (0: make one)
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// CPU seconds (user and system) this process has used.
double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

vigil::message_ref make(const std::string& topic, const std::string& payload, std::int64_t t) {
    const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
    return vigil::message::make(topic, bytes, vigil::qos::at_most_once, false, t);
}

/// p50 and p99 of `ms`, as text.
std::string percentiles(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) {
        return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size())))];
    };
    return fmt::format("p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms ({} runs)", at(0.5), at(0.99), ms.back(),
                       ms.size());
}

/// A vehicle moving at 10-20 m/s with a slowly turning heading: realistic, not constant, JSON.
struct vehicle {
    double lat;
    double lon;
    double heading;
    double speed;
    std::string topic;
    std::string events;
};

void fill(archive& a, const options& o, std::int64_t start, std::mt19937& rng, std::uint64_t& records) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<vehicle> fleet;
    for (int d = 0; d < o.devices; ++d) {
        fleet.push_back({59.0 + u(rng), 17.5 + u(rng), u(rng) * 360.0, 10.0 + 10.0 * u(rng),
                         fmt::format("devices/veh-{:05}/location", d), fmt::format("devices/veh-{:05}/events", d)});
    }
    const std::int64_t seconds = std::int64_t{o.hours} * 3600;
    constexpr std::size_t batch = 10'000;
    std::vector<vigil::archive::entry> pending;
    double busy = 0;  // seconds spent handing batches over and waiting for the writer
    const auto t0 = clock_type::now();
    const double cpu0 = cpu_seconds();
    for (std::int64_t s = 0; s < seconds; ++s) {
        const std::int64_t t = start + s * 1000;
        for (int d = 0; d < o.devices; ++d) {
            auto& v = fleet[static_cast<std::size_t>(d)];
            v.heading = std::fmod(v.heading + (u(rng) - 0.5) * 10.0 + 360.0, 360.0);
            v.lat += v.speed * std::cos(v.heading * M_PI / 180.0) / 111'000.0;
            v.lon += v.speed * std::sin(v.heading * M_PI / 180.0) / 55'000.0;
            const std::string payload =
                fmt::format(R"({{"lat":{:.6f},"lon":{:.6f},"speed":{:.1f},"heading":{:.0f},"battery":{}}})", v.lat,
                            v.lon, v.speed, v.heading, 100 - s * 60 / std::max<std::int64_t>(seconds, 1));
            pending.push_back({make(v.topic, payload, t + d % 1000), "veh"});
            if ((s + d) % 60 == 0) {
                pending.push_back({make(v.events, R"({"kind":"door","state":"open"})", t + d % 1000), "veh"});
            }
            if (pending.size() >= batch) {
                records += pending.size();
                const auto b0 = clock_type::now();
                a.append(std::exchange(pending, {}));
                busy += seconds_since(b0);
            }
        }
        if (s % 600 == 599) {
            // Bounded memory: wait for the writer every ten minutes of data.
            const auto b0 = clock_type::now();
            a.flush();
            busy += seconds_since(b0);
            std::fprintf(stderr, "\r%.0f%%", 100.0 * static_cast<double>(s + 1) / static_cast<double>(seconds));
        }
    }
    records += pending.size();
    const auto b0 = clock_type::now();
    a.append(std::exchange(pending, {}));
    a.flush();
    busy += seconds_since(b0);
    const double total = seconds_since(t0);
    const double cpu = cpu_seconds() - cpu0;
    const auto st = a.stats();
    std::fprintf(stderr, "\r");
    fmt::print(
        "write: {} records in {:.1f} s of writer time ({:.1f} s with generating them): {:.0f} records/s; written {}, "
        "dropped {}; "
        "cpu {:.1f} s ({:.0f} records per CPU second, generating them included)\n",
        records, busy, total, static_cast<double>(records) / busy, st.written, st.dropped, cpu,
        static_cast<double>(records) / cpu);
}

void query_bench(const archive& a, const options& o, std::int64_t start, std::mt19937& rng, std::string_view when) {
    const auto all = [](std::string_view) { return true; };
    const std::int64_t end = start + std::int64_t{o.hours} * 3'600'000;
    std::vector<double> track;
    std::size_t points = 0;
    for (int i = 0; i < o.queries; ++i) {
        vigil::archive::query q;
        q.filter = fmt::format("devices/veh-{:05}/location", rng() % static_cast<unsigned>(o.devices));
        q.from_ms = start;
        q.to_ms = end + 1000;
        q.limit = 100'000;
        const auto t0 = clock_type::now();
        points = a.read(q, all).records.size();
        track.push_back(seconds_since(t0) * 1000);
    }
    fmt::print("{}: one device's {} h track ({} points): {}\n", when, o.hours, points, percentiles(track));
    std::vector<double> events;
    std::size_t n = 0;
    for (int i = 0; i < o.queries; ++i) {
        vigil::archive::query q;
        q.filter = "devices/+/events";
        q.from_ms = start + static_cast<std::int64_t>(rng() % static_cast<unsigned>(o.hours)) * 3'600'000;
        q.to_ms = q.from_ms + 3'600'000;
        q.limit = 1'000'000;
        const auto t0 = clock_type::now();
        n = a.read(q, all).records.size();
        events.push_back(seconds_since(t0) * 1000);
    }
    fmt::print("{}: one hour of devices/+/events, every device ({} events): {}\n", when, n, percentiles(events));
}

void export_bench(const options& o, std::int64_t start) {
    vigil::archive::query q;
    q.filter = "devices/+/location";
    q.from_ms = start;
    q.to_ms = start + std::int64_t{o.hours} * 3'600'000 + 1000;
    q.limit = 10'000;
    std::uint64_t n = 0;
    std::uint64_t bytes = 0;
    const auto t0 = clock_type::now();
    vigil::archive::scan(o.dir, q, [&](const vigil::archive::page& p) {
        n += p.records.size();
        for (const auto& r : p.records) {
            bytes += r.payload.size();
        }
    });
    const double s = seconds_since(t0);
    fmt::print(
        "export (archive::scan, as vigil archive export reads) of every position: {} records in {:.1f} s: {:.0f} "
        "records/s ({:.0f} MB/s of payload)\n",
        n, s, static_cast<double>(n) / s, static_cast<double>(bytes) / s / 1e6);
}

std::uint64_t table_bytes(const std::filesystem::path& dir) {
    std::uint64_t sum = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".sst") {
            sum += e.file_size();
        }
    }
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (argc < 2) {
        std::fputs("usage: vigil-archive-bench DIR [--devices N] [--hours H] [--queries Q] [--seed S]\n", stderr);
        return 2;
    }
    o.dir = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string_view k = argv[i];
        const long v = std::strtol(argv[i + 1], nullptr, 10);
        if (k == "--devices") {
            o.devices = static_cast<int>(v);
        } else if (k == "--hours") {
            o.hours = static_cast<int>(v);
        } else if (k == "--queries") {
            o.queries = static_cast<int>(v);
        } else if (k == "--seed") {
            o.seed = static_cast<std::uint32_t>(v);
        } else if (k == "--query-only") {
            o.query_only_start = std::strtoll(argv[i + 1], nullptr, 10);
        } else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (std::filesystem::exists(o.dir) != (o.query_only_start != 0)) {
        std::fprintf(stderr, o.query_only_start != 0 ? "%s: no such archive\n" : "%s exists: give a new directory\n",
                     o.dir.c_str());
        return 2;
    }
    std::mt19937 rng(o.seed);
    const std::int64_t start =
        o.query_only_start != 0 ? o.query_only_start : (now_ms() / 1000) * 1000 - std::int64_t{o.hours} * 3'600'000;
    fmt::print("{} devices x {} h at 1 Hz from {} (ms), an event a minute each; seed {}\n", o.devices, o.hours, start,
               o.seed);
    if (o.query_only_start == 0) {
        std::uint64_t records = 0;
        vigil::archive::options ao;
        ao.dir = o.dir;
        ao.retention = std::chrono::milliseconds{0};
        ao.max_pending_bytes = 1u << 30;
        auto a = archive::open(ao);
        fill(*a, o, start, rng, records);
        a->stop();  // memtables to table files
        const std::uint64_t sst = table_bytes(o.dir);
        fmt::print("size: {} bytes in table files, {:.1f} bytes/record\n", sst,
                   static_cast<double>(sst) / static_cast<double>(records));
    }
    {
        vigil::archive::options ao;
        ao.dir = o.dir;
        ao.retention = std::chrono::milliseconds{0};
        auto a = archive::open(ao);
        // Timed on a settled archive, as one no longer written is: first RocksDB finishes
        // merging the table files the writing left (queries meanwhile are slower, and the
        // first ones are timed too, to say by how much).
        query_bench(*a, o, start, rng, "while the archive compacts");
        const auto w0 = clock_type::now();
        while (a->stats().compacting) {
            std::this_thread::sleep_for(std::chrono::milliseconds{200});
        }
        fmt::print("background compaction finished {:.1f} s later\n", seconds_since(w0));
        query_bench(*a, o, start, rng, "settled");
        a->stop();
    }
    export_bench(o, start);
    return 0;
}
