#pragma once
// Opening the RocksDB database with its column families, with errors an operator can act on.

#include <vigil/store/store.hpp>

#include <rocksdb/db.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::store {

inline constexpr std::array<std::string_view, family_count> family_names{
    "sessions", "subscriptions", "queue", "inbound", "retained", "last_value", "meta", "history"};

/// An open database and its column family handles (indexed by `family`).
struct rocks_db {
    std::string path;
    std::unique_ptr<rocksdb::DB> db;
    /// Owned; destroyed before db. Null for a family a read-only database does not have yet
    /// (written by an older vigil).
    std::vector<rocksdb::ColumnFamilyHandle*> handles;

    rocks_db() = default;
    rocks_db(rocks_db&&) noexcept = default;
    rocks_db& operator=(rocks_db&&) noexcept = default;
    ~rocks_db();

    [[nodiscard]] rocksdb::ColumnFamilyHandle* handle(family f) const noexcept {
        return handles[static_cast<std::size_t>(f)];
    }
};

/// Opens (creating unless `read_only`) the database in `dir`.
/// Errors: throws store_error naming the path, the cause and what to do.
[[nodiscard]] rocks_db open_rocks(const std::filesystem::path& dir, bool read_only);

}  // namespace vigil::store
