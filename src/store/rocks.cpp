#include "rocks.hpp"

#include <vigil/rocks/logger.hpp>

#include <fmt/format.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <system_error>

namespace vigil::store {
namespace {

constexpr std::string_view format_key = "format";
constexpr std::string_view format_version = "1";

[[noreturn]] void fail_open(const std::string& path, const rocksdb::Status& st) {
    const std::string why = st.ToString();
    std::string advice;
    if (st.IsCorruption()) {
        advice = "the database is damaged: run `vigil db check " + path +
                 "`, then restore the directory from a backup or move it aside to start empty (state in it is lost)";
    } else if (why.find("No space left") != std::string::npos || st.IsNoSpace()) {
        advice = "the disk is full: free space on the device holding data_dir, then start again";
    } else if (why.find("Read-only file system") != std::string::npos) {
        // Checked before the lock: RocksDB names its LOCK file when it cannot create it.
        advice = "data_dir is on a read-only file system: mount it read-write, or pick another data_dir";
    } else if (why.find("Permission denied") != std::string::npos) {
        advice =
            "vigil may not read or write there: give the user running vigil ownership of data_dir (chown), or pick "
            "another data_dir";
    } else if (why.find("lock hold") != std::string::npos ||
               why.find("Resource temporarily unavailable") != std::string::npos ||
               why.find("No locks available") != std::string::npos) {
        advice = "another vigil process is using this data_dir: stop it, or give this one its own data_dir";
    } else {
        advice = "check that data_dir is a readable, writable directory on a healthy disk";
    }
    throw store_error(fmt::format("data_dir {}: cannot open the store: {}. What to do: {}", path, why, advice));
}

}  // namespace

rocks_db::~rocks_db() {
    if (db) {
        for (auto* h : handles) {
            if (h != nullptr) {
                db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
            }
        }
        handles.clear();
        db->Close().PermitUncheckedError();
    }
}

rocks_db open_rocks(const std::filesystem::path& dir, bool read_only) {
    rocks_db r;
    r.path = dir.string();
    std::error_code ec;
    if (read_only) {
        if (!std::filesystem::exists(dir / "CURRENT", ec)) {
            throw store_error(
                fmt::format("data_dir {}: no vigil store here (no CURRENT file). What to do: point at the data_dir of "
                            "your configuration",
                            r.path));
        }
    } else {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            throw store_error(
                fmt::format("data_dir {}: cannot create it: {}. What to do: create it and give the user running vigil "
                            "ownership (chown), or pick another data_dir",
                            r.path, ec.message()));
        }
    }
    rocksdb::Options opt;
    opt.create_if_missing = !read_only;
    opt.create_missing_column_families = !read_only;
    opt.paranoid_checks = true;
    // A torn last record is a write that never completed (so was never acknowledged);
    // damage anywhere else is an error, never a silent truncation.
    opt.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    opt.max_background_jobs = 2;
    // Every flush writes all families at the same point, so the table files alone (what a
    // backup flushes and copies) always hold whole group commits.
    opt.atomic_flush = true;
    opt.info_log = rocks::make_logger();
    opt.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    rocksdb::ColumnFamilyOptions cf_opt;
    cf_opt.write_buffer_size = 32u << 20;
    // Read-only, only the families that exist: an older vigil's database lacks the newer ones.
    std::vector<std::string> existing;
    if (read_only) {
        const rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(opt, r.path, &existing);
        if (!ls.ok()) {
            fail_open(r.path, ls);
        }
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_opt);
    for (const auto name : family_names) {
        if (!read_only || std::find(existing.begin(), existing.end(), name) != existing.end()) {
            cfs.emplace_back(std::string{name}, cf_opt);
        }
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    const rocksdb::Status st = read_only ? rocksdb::DB::OpenForReadOnly(opt, r.path, cfs, &handles, &raw)
                                         : rocksdb::DB::Open(opt, r.path, cfs, &handles, &raw);
    if (!st.ok()) {
        fail_open(r.path, st);
    }
    r.db.reset(raw);
    // handles[0] is the default family, unused: keep only ours, in `family` order.
    r.db->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
    r.handles.assign(family_count, nullptr);
    for (std::size_t i = 1; i < handles.size(); ++i) {
        const auto at = std::find(family_names.begin(), family_names.end(), cfs[i].name);
        r.handles[static_cast<std::size_t>(at - family_names.begin())] = handles[i];
    }

    auto* meta = r.handle(family::meta);
    std::string version;
    const rocksdb::Status gs = r.db->Get(rocksdb::ReadOptions{}, meta, format_key, &version);
    if (gs.IsNotFound() && !read_only) {
        rocksdb::WriteOptions wo;
        wo.sync = true;
        const rocksdb::Status ps = r.db->Put(wo, meta, format_key, format_version);
        if (!ps.ok()) {
            fail_open(r.path, ps);
        }
    } else if (!gs.ok() && !gs.IsNotFound()) {
        fail_open(r.path, gs);
    } else if (gs.ok() && version != format_version) {
        throw store_error(
            fmt::format("data_dir {}: store format {} is not the format {} this vigil reads. What to do: run the vigil "
                        "version that wrote it, or start with an empty data_dir",
                        r.path, version, format_version));
    }
    return r;
}

}  // namespace vigil::store
