#include <vigil/rocks/backup.hpp>

#include <vigil/rocks/logger.hpp>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/backup_engine.h>

#include <memory>
#include <system_error>

namespace vigil::rocks {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& dir, std::string_view doing, const rocksdb::Status& st) {
    throw backup_error(fmt::format("{}: {}: {}", dir.string(), doing, st.ToString()));
}

std::unique_ptr<rocksdb::BackupEngine> open_engine(const fs::path& dir, bool create) {
    std::error_code ec;
    if (create) {
        fs::create_directories(dir, ec);
        if (ec) {
            throw backup_error(fmt::format("{}: cannot create the backup directory: {}", dir.string(), ec.message()));
        }
    } else if (!fs::exists(dir / "meta", ec)) {
        throw backup_error(fmt::format("{}: not a backup directory (no meta/ in it)", dir.string()));
    }
    rocksdb::BackupEngineOptions o{dir.string()};
    static const auto logger = make_logger();  // the engine keeps a raw pointer to it
    o.info_log = logger.get();
    rocksdb::BackupEngine* raw = nullptr;
    if (const auto st = rocksdb::BackupEngine::Open(o, rocksdb::Env::Default(), &raw); !st.ok()) {
        fail(dir, "cannot open the backup directory", st);
    }
    return std::unique_ptr<rocksdb::BackupEngine>{raw};
}

backup_info to_info(const rocksdb::BackupInfo& b) {
    return {b.backup_id, b.timestamp, b.size, b.number_files, b.app_metadata};
}

}  // namespace

backup_info create_backup(rocksdb::DB& db, const fs::path& dir, std::string_view label) {
    auto engine = open_engine(dir, true);
    rocksdb::CreateBackupOptions co;
    // Memtables to table files first (the databases flush atomically: all families at one
    // point), so the backup holds everything committed when it started.
    co.flush_before_backup = true;
    rocksdb::BackupID id = 0;
    if (const auto st = engine->CreateNewBackupWithMetadata(co, &db, std::string{label}, &id); !st.ok()) {
        fail(dir, "backup failed", st);
    }
    if (const auto st = engine->VerifyBackup(id, true); !st.ok()) {
        fail(dir, fmt::format("backup {} does not verify", id), st);
    }
    rocksdb::BackupInfo info;
    if (const auto st = engine->GetBackupInfo(id, &info); !st.ok()) {
        fail(dir, fmt::format("backup {} cannot be read back", id), st);
    }
    return to_info(info);
}

backup_info create_backup(const fs::path& db_dir, const fs::path& dir, std::string_view label) {
    std::error_code ec;
    if (!fs::exists(db_dir / "CURRENT", ec)) {
        throw backup_error(fmt::format("{}: no database here (no CURRENT file)", db_dir.string()));
    }
    rocksdb::Options o;
    o.info_log = make_logger();
    o.atomic_flush = true;
    // Recovery as vigil's own: damage anywhere but a torn last record is an error.
    o.paranoid_checks = true;
    o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    o.max_background_jobs = 1;
    std::vector<std::string> names;
    if (const auto st = rocksdb::DB::ListColumnFamilies(o, db_dir.string(), &names); !st.ok()) {
        fail(db_dir, "cannot read the database", st);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) {
        cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    if (const auto st = rocksdb::DB::Open(o, db_dir.string(), cfs, &handles, &raw); !st.ok()) {
        fail(db_dir, "cannot open the database (is vigil running on it?)", st);
    }
    std::unique_ptr<rocksdb::DB> db{raw};
    const auto close = [&db, &handles] {
        for (auto* h : handles) {
            (void)db->DestroyColumnFamilyHandle(h);
        }
        handles.clear();
        (void)db->Close();
    };
    try {
        auto info = create_backup(*db, dir, label);
        close();
        return info;
    } catch (...) {
        close();
        throw;
    }
}

std::vector<backup_info> list_backups(const fs::path& dir) {
    auto engine = open_engine(dir, false);
    std::vector<rocksdb::BackupInfo> all;
    engine->GetBackupInfo(&all);
    std::vector<backup_info> out;
    out.reserve(all.size());
    for (const auto& b : all) {
        out.push_back(to_info(b));
    }
    return out;
}

void verify_backup(const fs::path& dir, std::uint32_t id) {
    auto engine = open_engine(dir, false);
    if (const auto st = engine->VerifyBackup(id, true); !st.ok()) {
        fail(dir, fmt::format("backup {} does not verify", id), st);
    }
}

void restore_backup(const fs::path& dir, std::uint32_t id, const fs::path& db_dir) {
    std::error_code ec;
    // RocksDB's restore deletes the files it finds in db_dir: only an empty (or absent) one.
    if (fs::exists(db_dir, ec) && !fs::is_empty(db_dir, ec)) {
        throw backup_error(
            fmt::format("{}: is not empty; a restore only writes into an empty directory (it would delete what is "
                        "there): move it aside first",
                        db_dir.string()));
    }
    fs::create_directories(db_dir, ec);
    if (ec) {
        throw backup_error(fmt::format("{}: cannot create it: {}", db_dir.string(), ec.message()));
    }
    auto engine = open_engine(dir, false);
    if (const auto st = engine->RestoreDBFromBackup(rocksdb::RestoreOptions{}, id, db_dir.string(), db_dir.string());
        !st.ok()) {
        fail(dir, fmt::format("restoring backup {} into {} failed", id, db_dir.string()), st);
    }
}

void delete_backup(const fs::path& dir, std::uint32_t id) {
    auto engine = open_engine(dir, false);
    if (const auto st = engine->DeleteBackup(id); !st.ok()) {
        fail(dir, fmt::format("cannot delete backup {}", id), st);
    }
}

std::uint64_t directory_bytes(const fs::path& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec)) {
            total += it->file_size(ec);
        }
    }
    return total;
}

}  // namespace vigil::rocks
