// `vigil archive check`: the archive verified offline, day by day.
#include <vigil/archive/archive.hpp>

#include "layout.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <rocksdb/db.h>

#include <memory>

namespace vigil::archive {
namespace {

std::string utc(std::int64_t ms) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::sys_seconds{std::chrono::seconds{ms / 1000}});
}

}  // namespace

check_report check(const std::filesystem::path& dir) {
    check_report r;
    const std::string path = dir.string();
    std::vector<std::string> names;
    rocksdb::Status st = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, path, &names);
    if (!st.ok()) {
        r.text = fmt::format("{}: cannot open the archive: {}\n", path, st.ToString());
        return r;
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) {
        cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    st = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, path, cfs, &handles, &raw);
    if (!st.ok()) {
        r.text = fmt::format("{}: cannot open the archive: {}\n", path, st.ToString());
        return r;
    }
    std::unique_ptr<rocksdb::DB> db{raw};
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
        std::uint64_t t = 0;
        for (const char c : kept) {
            t = (t << 8) | static_cast<unsigned char>(c);
        }
        text += fmt::format("  complete from {} (older days were dropped)\n", utc(static_cast<std::int64_t>(t)));
    }
    for (std::size_t i = 0; i < names.size() && ok; ++i) {
        if (!layout::partition_day(names[i])) {
            continue;
        }
        std::uint64_t n = 0;
        std::uint64_t damaged = 0;
        std::int64_t first = 0;
        std::int64_t last = 0;
        std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, handles[i])};
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            const auto k = layout::parse_key({it->key().data(), it->key().size()});
            record rec;
            if (!k || !layout::parse_value({it->value().data(), it->value().size()}, rec)) {
                ++damaged;
                continue;
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
            text += fmt::format(", {} .. {}", utc(first), utc(last));
        }
        if (damaged > 0) {
            text += fmt::format(", {} DAMAGED", damaged);
            ok = false;
        }
        text += '\n';
    }
    for (auto* h : handles) {
        (void)db->DestroyColumnFamilyHandle(h);
    }
    r.ok = ok;
    r.text = std::move(text);
    return r;
}

}  // namespace vigil::archive
