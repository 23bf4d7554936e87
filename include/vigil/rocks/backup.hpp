#pragma once
/// Backups of a RocksDB database with RocksDB's BackupEngine, for the store and the archive:
/// consistent while writes go on, incremental (a backup directory keeps every table file once,
/// so each backup after the first copies only the files that changed), verified after writing.
/// This header does not include RocksDB.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
}

namespace vigil::rocks {

/// One backup in a backup directory.
struct backup_info {
    std::uint32_t id = 0;
    std::int64_t time = 0;    ///< when it was made (seconds since the Unix epoch)
    std::uint64_t bytes = 0;  ///< the database's files it holds (some shared with other backups)
    std::uint32_t files = 0;
    std::string label;  ///< what its maker attached to it
};

/// A backup could not be made, read or restored; the message names the path and the cause.
class backup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Adds a backup of the open database `db` to the backup directory `dir` (created when absent),
/// labelled `label`, and verifies its files' checksums. Safe while other threads write.
/// Errors: throws backup_error.
[[nodiscard]] backup_info create_backup(rocksdb::DB& db, const std::filesystem::path& dir, std::string_view label);

/// The same for the database in `db_dir` that no process has open: it is opened (taking its
/// lock, so nothing starts on it meanwhile) with all its column families, then closed.
/// Errors: throws backup_error (also when another process has it open).
[[nodiscard]] backup_info create_backup(const std::filesystem::path& db_dir, const std::filesystem::path& dir,
                                        std::string_view label);

/// The good backups in `dir`, oldest first. Errors: throws backup_error when `dir` is not a
/// backup directory.
[[nodiscard]] std::vector<backup_info> list_backups(const std::filesystem::path& dir);

/// Verifies the checksums of every file of backup `id` in `dir`. Errors: throws backup_error.
void verify_backup(const std::filesystem::path& dir, std::uint32_t id);

/// Restores backup `id` of `dir` into `db_dir`, which must be empty or absent (RocksDB deletes
/// what it finds there); verify_backup it first. Errors: throws backup_error.
void restore_backup(const std::filesystem::path& dir, std::uint32_t id, const std::filesystem::path& db_dir);

/// Deletes backup `id` of `dir` (and the files no other backup shares).
/// Errors: throws backup_error.
void delete_backup(const std::filesystem::path& dir, std::uint32_t id);

/// The bytes of every file under `dir` (0 when absent): what a backup added to its directory.
[[nodiscard]] std::uint64_t directory_bytes(const std::filesystem::path& dir);

}  // namespace vigil::rocks
