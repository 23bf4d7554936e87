#pragma once
/// The history archive: every message on the `[archive] topics`, kept on disk by time, queried
/// by topic or filter and time range. Shards hand it records and never wait; a compactor thread
/// writes them in large sorted batches into a RocksDB database of its own (zstd, one column
/// family per UTC day, so retention drops whole days).

#include <vigil/core/check_report.hpp>
#include <vigil/core/message.hpp>
#include <vigil/rocks/backup.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::archive {

/// One archived message.
struct record {
    std::string topic;
    std::int64_t time_ms = 0;  ///< when the broker received it (ms since the Unix epoch)
    std::uint64_t seq = 0;     ///< its origin sequence (message::origin): with topic and time, its key
    qos q = qos::at_most_once;
    bool retain = false;
    std::string client_id;  ///< who published it ("" for the server itself)
    std::string payload;
};

struct options {
    std::filesystem::path dir;
    std::chrono::milliseconds flush_interval{1000};
    /// Days older than this are dropped whole (0: kept forever).
    std::chrono::milliseconds retention{std::chrono::hours{24 * 30}};
    /// The oldest days are dropped while the archive's files exceed this (0: no cap).
    std::uint64_t max_bytes = 0;
    /// Records waiting for the compactor, at most; beyond it new records are dropped, counted
    /// and logged (the live path never waits for the archive).
    std::size_t max_pending_bytes = 64u << 20;
    /// Writes wait while the disk of `dir` has less than this free (0: never): RocksDB is
    /// never let to run out of space, which it does not recover from while running.
    std::uint64_t min_free_bytes = 256u << 20;
    /// Called on the compactor thread with the keys of `staged` entries once they are written
    /// and synced: the hot store may let its copies go.
    std::function<void(std::vector<std::string> keys)> on_staged_written;
};

/// What a shard hands over: the message (shared, not copied) and who published it.
struct entry {
    message_ref msg;
    std::string client_id;
    /// The hot store holds a copy (an acknowledged QoS 1/2 message in durable mode): it is
    /// written with fsync and reported to options::on_staged_written; a failed write is tried
    /// again, and one that never happens is written from the store's copy at the next start.
    bool staged = false;
};

/// A record in the archive's own encoding: the hot store stages it so, and gives it back.
struct encoded {
    std::string key;
    std::string value;
};
[[nodiscard]] encoded encode(const message& m, std::string_view client_id);

/// Opening the archive failed; the message names the path and what to do.
class archive_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Where a page ended: the next page starts strictly after this record in the query's order.
struct position {
    std::int64_t time_ms = 0;
    std::string topic;
    std::uint64_t seq = 0;
};

/// Encodes a position as an opaque URL-safe cursor, and back (nullopt if it is not one).
[[nodiscard]] std::string encode_cursor(const position& p);
[[nodiscard]] std::optional<position> decode_cursor(std::string_view text);

struct query {
    std::string filter;        ///< a topic or a filter with wildcards
    std::int64_t from_ms = 0;  ///< inclusive
    std::int64_t to_ms = 0;    ///< exclusive
    std::size_t limit = 1000;
    bool descending = false;
    std::optional<position> after;  ///< continue after this record (a cursor)
};

struct page {
    /// In time order (then topic, then sequence), ascending or descending as asked.
    std::vector<record> records;
    /// Set when more records may follow: pass it as `query::after`.
    std::optional<position> next;
    /// Records before this time (ms) were dropped by retention; a query starting earlier is
    /// incomplete, and says so.
    std::int64_t kept_from_ms = 0;
};

/// Counters (a snapshot).
struct archive_stats {
    std::uint64_t appended = 0;  ///< records handed over
    std::uint64_t written = 0;   ///< records in the archive
    std::uint64_t dropped = 0;   ///< records dropped: pending bound reached, or a failed write
    std::uint64_t flushes = 0;
    std::size_t pending_bytes = 0;
    std::int64_t lag_ms_max = 0;   ///< longest time from a record's receipt to its write, last flush
    std::uint64_t partitions = 0;  ///< days held
    std::uint64_t partitions_dropped = 0;
    std::uint64_t bytes_on_disk = 0;
    bool healthy = true;      ///< false while writes fail (the cause: last_error)
    bool compacting = false;  ///< RocksDB is merging (or has to merge) table files in the background
};

/// Thread safety: every member is safe from any thread.
class archive {
public:
    /// Opens (creating) the archive in `o.dir` and starts its compactor thread.
    /// Errors: throws archive_error naming the path, the cause and what to do.
    [[nodiscard]] static std::unique_ptr<archive> open(const options& o);

    virtual ~archive() = default;

    /// Hands messages to the compactor; never waits for the disk. A message's key is its
    /// topic, receive time and origin sequence: appending it twice keeps one record.
    virtual void append(std::vector<entry> batch) = 0;
    /// Writes records the hot store staged before a crash (at start, before any append),
    /// synced; false (logged) when that failed and the store must keep them.
    [[nodiscard]] virtual bool restore(const std::vector<encoded>& records) = 0;
    /// Writes everything appended so far; returns once it is written (or failed).
    virtual void flush() = 0;
    /// The records matching `q` that `may_read(topic)` allows, at most `q.limit`.
    [[nodiscard]] virtual page read(const query& q, const std::function<bool(std::string_view)>& may_read) const = 0;

    [[nodiscard]] virtual archive_stats stats() const = 0;
    [[nodiscard]] virtual std::string last_error() const = 0;
    /// Adds a consistent backup of what is written so far to the backup directory `dir`
    /// (rocks::create_backup); the compactor keeps writing meanwhile.
    /// Errors: throws rocks::backup_error.
    [[nodiscard]] virtual rocks::backup_info backup(const std::filesystem::path& dir, std::string_view label) = 0;
    /// Writes what is pending and stops the compactor thread.
    virtual void stop() = 0;
};

/// Reads the archive at `dir` read-only (also while vigil runs: it sees what is written) and
/// passes the records of `q`, a page of at most `q.limit` at a time, to `each`.
/// Errors: throws archive_error when it cannot be opened.
void scan(const std::filesystem::path& dir, query q, const std::function<void(const page&)>& each);

/// Opens the archive at `dir` read-only, verifies every block checksum and counts each day's
/// records (with the first and last time).
[[nodiscard]] check_report check(const std::filesystem::path& dir);

}  // namespace vigil::archive
