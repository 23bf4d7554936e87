#pragma once
/// The hot store (RocksDB): one database under `data_dir`, one column
/// family per kind of hot state, and a store thread that group-commits every batch queued
/// since its last write in one RocksDB write (and one fsync in durable mode); batches linked
/// into a group (write_batch::link) always share one write.

#include <vigil/core/check_report.hpp>
#include <vigil/core/histogram.hpp>
#include <vigil/rocks/backup.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::store {

/// Column families. Keys are big-endian where they hold numbers, so ranges sort correctly.
enum class family : std::uint8_t {
    sessions,       ///< client id -> session record (will of a persistent session)
    subscriptions,  ///< client id, filter -> granted QoS
    queue,          ///< client id, sequence -> queued or in-flight QoS 1/2 message
    inbound,        ///< client id, packet id -> QoS 2 received, not yet released
    retained,       ///< topic -> retained message
    last_value,     ///< topic -> newest message on a `state.topics` topic
    meta,           ///< format version and other facts about the database
    /// An acknowledged QoS 1/2 message on an archived topic, until the archive has it
    /// (durable mode): the archive's own key and value (archive::encode).
    history,
};
constexpr std::size_t family_count = 8;

/// Writes made on one shard during one loop pass; committed atomically, in order.
/// Thread safety: distinct objects safe, shared objects unsafe.
class write_batch {
public:
    enum class kind : std::uint8_t { put, erase, erase_prefix };
    struct op {
        kind k;
        family f;
        std::string key;
        std::string value;
    };

    void put(family f, std::string key, std::string value);
    void erase(family f, std::string key);
    /// Erases every key that starts with `prefix`.
    void erase_prefix(family f, std::string prefix);

    /// Whether the commit that carries this batch must be fsynced (in durable mode): true
    /// (the default) when an acknowledgement depends on it; false for writes no client was
    /// promised (QoS 0 retained and last values), which then share the WAL without waiting
    /// for the disk unless a durable batch rides in the same commit.
    void set_sync(bool sync) noexcept { sync_ = sync; }
    [[nodiscard]] bool sync() const noexcept { return sync_; }

    /// Makes this batch one of `parts` batches (from different shards) sharing the group
    /// `id`: the store commits them all in the same write, never some without the others.
    /// A batch may belong to several groups; the groups of one write close over each other.
    void link(std::uint64_t id, std::uint32_t parts) { links_.push_back({id, parts}); }
    struct group_link {
        std::uint64_t id;
        std::uint32_t parts;
    };
    [[nodiscard]] const std::vector<group_link>& links() const noexcept { return links_; }

    /// No operations and no group links (a linked batch is submitted even when empty).
    [[nodiscard]] bool empty() const noexcept { return ops_.empty() && links_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return ops_.size(); }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] const std::vector<op>& ops() const noexcept { return ops_; }

private:
    std::vector<op> ops_;
    std::vector<group_link> links_;
    std::size_t bytes_ = 0;
    bool sync_ = true;
};

/// Opening or checking the database failed; the message names the path and what to do.
class store_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct options {
    std::filesystem::path dir;
    /// fsync the WAL before a commit completes ("durable"); otherwise the WAL is written
    /// but not synced (a committed batch survives a process crash, not always a power cut).
    bool sync = true;
    /// disk_low() turns true while the file system of `dir` has less than this free (0: never).
    std::uint64_t min_free_bytes = 0;
};

/// Group commits by the writes they carry (a histogram's bounds).
inline constexpr std::array<double, 12> commit_size_bounds{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};

/// Counters of the store thread (a snapshot).
struct store_stats {
    std::uint64_t commits = 0;   ///< RocksDB writes (each one WAL append)
    std::uint64_t syncs = 0;     ///< of which fsynced
    std::uint64_t batches = 0;   ///< batches submitted by shards
    std::uint64_t ops = 0;       ///< puts and deletes
    std::uint64_t failures = 0;  ///< commits that failed (disk full, I/O error)
    std::uint64_t commit_us_max = 0;
    std::size_t backlog_bytes = 0;                ///< submitted, not yet committed
    std::uint64_t size_bytes = 0;                 ///< table files and memtables (what the log would replay)
    histogram<duration_bounds> commit_seconds;    ///< each commit, its fsync included
    histogram<duration_bounds> fsync_seconds;     ///< the fsync of each synced commit
    histogram<commit_size_bounds> commit_writes;  ///< puts and deletes per commit
};

/// Completion of a submitted batch; runs on the store thread. `ok` is false when the
/// commit failed: nothing in the batch may be acknowledged.
using completion = std::function<void(bool ok)>;

/// Thread safety: submit, stats, healthy and backlog_bytes are safe from any thread;
/// for_each only before the first submit (recovery).
class store {
public:
    /// Opens the database in `o.dir`, creating it (and the directory) when absent.
    /// Errors: throws store_error naming the path and what to do (no permission, corrupt
    /// database, locked by another process, disk full).
    [[nodiscard]] static std::unique_ptr<store> open(const options& o);

    virtual ~store() = default;

    /// Queues `b` for the next group commit; `done` runs once it is on disk (or failed). A
    /// linked batch, and every batch queued after it, waits until its group's other parts
    /// are queued (or the store stops).
    virtual void submit(write_batch b, completion done) = 0;

    /// Calls `f(key, value)` for every entry of `f`, in key order.
    virtual void for_each(family fam, const std::function<void(std::string_view, std::string_view)>& f) const = 0;

    [[nodiscard]] virtual store_stats stats() const = 0;
    [[nodiscard]] virtual std::size_t backlog_bytes() const noexcept = 0;
    /// False once a commit has failed; the error says why.
    [[nodiscard]] virtual bool healthy() const noexcept = 0;
    /// True while the disk holding the store has less than options::min_free_bytes free
    /// (checked at open, after commits, and at least every second).
    [[nodiscard]] virtual bool disk_low() const noexcept = 0;
    [[nodiscard]] virtual std::string last_error() const = 0;

    /// Adds a consistent backup of the database, as committed at this moment, to the backup
    /// directory `dir` (rocks::create_backup); the store keeps committing meanwhile.
    /// Errors: throws rocks::backup_error.
    [[nodiscard]] virtual rocks::backup_info backup(const std::filesystem::path& dir, std::string_view label) = 0;

    /// Commits what is queued, runs its completions and stops the store thread.
    virtual void stop() = 0;
};

/// Opens the database at `dir` read-only, verifies every block checksum and counts the
/// entries of every column family.
[[nodiscard]] check_report check(const std::filesystem::path& dir);

}  // namespace vigil::store
