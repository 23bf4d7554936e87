// The archive read offline: `vigil archive check` verifies it day by day, `vigil archive export`
// scans it.
#include <vigil/archive/archive.hpp>

#include "layout.hpp"
#include "query.hpp"

#include <vigil/core/big_endian.hpp>
#include <vigil/rocks/logger.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <memory>
#include <set>

namespace vigil::archive {
namespace {

std::string utc(std::int64_t ms) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::sys_seconds{std::chrono::seconds{ms / 1000}});
}

}  // namespace

/// The archive at `dir` opened read-only (RocksDB takes no lock for that, so it works while
/// vigil runs): the database and a handle per column family, in `names` order.
struct read_only {
    std::vector<std::string> names;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    std::unique_ptr<rocksdb::DB> db;

    read_only() = default;
    read_only(const read_only&) = delete;
    read_only& operator=(const read_only&) = delete;
    ~read_only() {
        for (auto* h : handles) {  // only an open database has handles
            (void)db->DestroyColumnFamilyHandle(h);
        }
    }

    /// "" when open, else why not.
    std::string open(const std::string& path) {
        rocksdb::DBOptions o;
        o.info_log = rocks::make_logger();  // no LOG file written beside vigil's
        rocksdb::Status st = rocksdb::DB::ListColumnFamilies(o, path, &names);
        if (!st.ok()) {
            return st.ToString();
        }
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        for (const auto& n : names) {
            cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
        }
        rocksdb::DB* raw = nullptr;
        st = rocksdb::DB::OpenForReadOnly(o, path, cfs, &handles, &raw);
        db.reset(raw);
        return st.ok() ? std::string{} : st.ToString();
    }
};

void scan(const std::filesystem::path& dir, query q, const std::function<void(const page&)>& each) {
    read_only a;
    if (const std::string why = a.open(dir.string()); !why.empty()) {
        throw archive_error(
            fmt::format("archive {}: cannot open it: {}. What to do: point at the data_dir of your configuration (the "
                        "archive is its archive/ directory)",
                        dir.string(), why));
    }
    std::vector<partition_ref> parts;
    for (std::size_t i = 0; i < a.names.size(); ++i) {
        if (const auto day = layout::partition_day(a.names[i])) {
            parts.push_back({*day, std::shared_ptr<rocksdb::ColumnFamilyHandle>{a.handles[i],
                                                                                [](rocksdb::ColumnFamilyHandle*) {}}});
        }
    }
    std::sort(parts.begin(), parts.end(), [](const partition_ref& x, const partition_ref& y) { return x.day < y.day; });
    if (q.limit == 0) {
        return;
    }
    run_scan(*a.db, parts, q, each);
}

check_report check(const std::filesystem::path& dir) {
    check_report r;
    const std::string path = dir.string();
    read_only a;
    if (const std::string why = a.open(path); !why.empty()) {
        r.text = fmt::format("{}: cannot open the archive: {}\n", path, why);
        return r;
    }
    const auto& names = a.names;
    const auto& handles = a.handles;
    rocksdb::DB* db = a.db.get();
    rocksdb::Status st;
    std::string text = fmt::format("{}: ", path);
    bool ok = true;
    if (st = db->VerifyChecksum(); !st.ok()) {
        text += fmt::format("checksum verification FAILED: {}\n", st.ToString());
        ok = false;
    } else {
        text += "checksums verified\n";
    }
    std::string kept;
    if (db->Get(rocksdb::ReadOptions{}, "kept_from", &kept).ok() && kept.size() == 8) {
        text += fmt::format("  complete from {} (older days were dropped)\n",
                            utc(static_cast<std::int64_t>(big_endian::load_u64(kept))));
    }
    for (std::size_t i = 0; i < names.size() && ok; ++i) {
        if (!layout::partition_day(names[i])) {
            continue;
        }
        std::uint64_t n = 0;
        std::uint64_t damaged = 0;
        std::int64_t first = 0;
        std::int64_t last = 0;
        // The catalogue comes first: then each topic of the records must be in it.
        bool catalogued = false;
        std::set<std::string, std::less<>> listed;
        std::string topic;
        std::uint64_t topics = 0;
        std::uint64_t unlisted = 0;
        std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, handles[i])};
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            const std::string_view key{it->key().data(), it->key().size()};
            if (key == layout::catalogue_marker) {
                catalogued = true;
                continue;
            }
            if (const auto t = layout::catalogue_topic(key)) {
                listed.emplace(*t);
                continue;
            }
            const auto k = layout::parse_key(key);
            record rec;
            if (!k || !layout::parse_value({it->value().data(), it->value().size()}, rec)) {
                ++damaged;
                continue;
            }
            if (n == 0 || k->topic != topic) {
                topic.assign(k->topic);
                ++topics;
                unlisted += catalogued && !listed.contains(topic) ? 1u : 0u;
            }
            first = n == 0 ? k->time_ms : std::min(first, k->time_ms);
            last = n == 0 ? k->time_ms : std::max(last, k->time_ms);
            ++n;
        }
        if (!it->status().ok()) {
            text += fmt::format("  {} reading FAILED: {}\n", names[i], it->status().ToString());
            ok = false;
            continue;
        }
        text += fmt::format("  {}  {} records", names[i].substr(1), n);
        if (n > 0) {
            text += fmt::format(", {} .. {}, {} topics", utc(first), utc(last), topics);
        }
        if (damaged > 0) {
            text += fmt::format(", {} DAMAGED", damaged);
            ok = false;
        }
        if (unlisted > 0) {
            text += fmt::format(", {} topics missing from the day's catalogue: DAMAGED", unlisted);
            ok = false;
        } else if (!catalogued && n > 0) {
            text += " (no topic catalogue: written by an older version; filters read it more slowly)";
        }
        text += '\n';
    }
    r.ok = ok;
    r.text = std::move(text);
    return r;
}

}  // namespace vigil::archive
