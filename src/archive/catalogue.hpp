#pragma once
// Each day's topic catalogue (see layout.hpp): written with the records, read by filters.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>

namespace vigil::archive::catalogue {

/// What the compactor has put in each day's catalogue this run, so a topic's key is written
/// once a day (again after a restart: writing it twice keeps one).
class writer {
public:
    /// Adds `topic`'s catalogue key to `wb` unless day `day`'s catalogue or `wb` has it.
    void add(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* cf, std::int64_t day, std::string_view topic);
    /// The batch was written: its topics are in the catalogue. Only the newest two days are
    /// remembered (records of older days are rare: restores after a crash).
    void written();
    /// The batch was not written.
    void discarded() { batch_.clear(); }

private:
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using topics = std::unordered_set<std::string, hash, std::equal_to<>>;
    std::map<std::int64_t, topics> known_;
    std::map<std::int64_t, topics> batch_;
};

/// Marks partition `cf` as catalogued; only right after it was created, or when it is empty.
[[nodiscard]] rocksdb::Status mark(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf);

/// Whether `cf` has a catalogue; else, at open, marks it if it is empty (created before a crash
/// let it be marked). A partition written by a version without catalogues has none.
[[nodiscard]] bool present(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, bool mark_if_empty);

/// Calls `f(topic)` once for every topic in partition `cf` that matches `filter`, in order:
/// from the catalogue when the partition has one, else by seeking from topic to topic.
void for_each_topic(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view filter,
                    const std::function<void(std::string_view)>& f);

}  // namespace vigil::archive::catalogue
