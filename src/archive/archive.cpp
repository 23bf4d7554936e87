// The archive's RocksDB database and its compactor thread.
//
// Design note. Shards append records under a short lock and never touch the disk. The
// compactor wakes every flush_interval (or when 8 MiB are pending, or on flush()), sorts what
// is pending by partition and key and writes it as one WriteBatch, without fsync unless it holds
// acknowledged QoS 1/2 messages (durable mode): the store staged those in the group commit that
// acknowledged them and drops its copies once they are written here, so a crash loses none of
// them; of the rest it can lose what was pending, at most one flush_interval. It writes only
// while the disk has min_free_bytes free: below that, staged records are kept and tried again
// every interval, the others are dropped and counted, and writing resumes by itself when there
// is room. A write RocksDB itself fails (an I/O error) stops the writing until restart, as
// RocksDB cannot go on after it. Then the compactor applies retention: days
// older than `retention`, and the oldest days while the files exceed `max_bytes`, are dropped as
// whole column families (no per-record deletes, no compaction debt), and the time before which
// data is gone is recorded so queries can say so.
#include <vigil/archive/archive.hpp>

#include "catalogue.hpp"
#include "layout.hpp"
#include "query.hpp"

#include <vigil/core/big_endian.hpp>
#include <vigil/core/log.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/core/thread_name.hpp>
#include <vigil/rocks/logger.hpp>

#include <fmt/format.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <map>
#include <thread>

#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace vigil::archive {
namespace {

constexpr std::size_t wake_bytes = 8u << 20;
constexpr std::string_view kept_from_key = "kept_from";

rocksdb::ColumnFamilyOptions partition_options() {
    rocksdb::ColumnFamilyOptions o;
    const auto supported = rocksdb::GetSupportedCompressions();
    const bool zstd = std::find(supported.begin(), supported.end(), rocksdb::kZSTD) != supported.end();
    o.compression = zstd ? rocksdb::kZSTD : rocksdb::kSnappyCompression;
    o.bottommost_compression = o.compression;
    o.write_buffer_size = 32u << 20;
    rocksdb::BlockBasedTableOptions t;
    t.block_size = 32 * 1024;  // larger blocks compress JSON positions better; scans are sequential
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    return o;
}

std::size_t entry_bytes(const entry& e) {
    return e.msg->topic().size() + e.msg->payload().size() + e.client_id.size() + 64;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class rocks_archive final : public archive {
public:
    explicit rocks_archive(const options& o) : opt_(o) {
        open_db();
        thread_ = std::thread([this] { run(); });
    }
    ~rocks_archive() override { stop(); }
    rocks_archive(const rocks_archive&) = delete;
    rocks_archive& operator=(const rocks_archive&) = delete;

    void append(std::vector<entry> batch) override {
        std::size_t bytes = 0;
        for (const auto& e : batch) {
            bytes += entry_bytes(e);
        }
        bool wake = false;
        {
            const lock_guard lock{mu_};
            appended_ += batch.size();
            if (pending_bytes_ + bytes > opt_.max_pending_bytes) {
                dropped_ += batch.size();
                VIGIL_LOG_LIMITED(warn,
                                  "archive {}: {} bytes wait for the compactor (max_pending_bytes): {} records dropped",
                                  opt_.dir.string(), pending_bytes_, batch.size());
                return;
            }
            pending_bytes_ += bytes;
            std::move(batch.begin(), batch.end(), std::back_inserter(pending_));
            wake = pending_bytes_ >= wake_bytes;
        }
        if (wake) {
            cv_.notify_one();
        }
    }

    void flush() override {
        unique_lock lock{mu_};
        const std::uint64_t wanted = ++flush_requested_;
        cv_.notify_one();
        done_cv_.wait(lock.native(), [&]() VIGIL_REQUIRES(mu_) { return flush_done_ >= wanted || stopped_; });
    }

    bool restore(const std::vector<encoded>& records) override {
        rocksdb::WriteBatch wb;
        std::uint64_t puts = 0;  // records (the batch also holds catalogue keys)
        const std::int64_t floor = kept_from_.load(std::memory_order_relaxed);
        for (const auto& r : records) {
            const auto k = layout::parse_key(r.key);
            if (!k || k->time_ms < floor) {
                continue;  // damaged, or its day was dropped already
            }
            const auto day = layout::day_of(k->time_ms);
            const auto h = partition(day);
            if (!h) {
                return false;
            }
            (void)wb.Put(h.get(), r.key, r.value);
            ++puts;
            catalogue_.add(wb, h.get(), day, k->topic);
        }
        const rocksdb::Status st = commit(wb, true);
        settle_catalogue(st);
        if (!st.ok()) {
            note_error(st);
            log::error(
                "archive {}: writing {} records staged before a crash failed: {}; the store keeps them for the next "
                "start",
                opt_.dir.string(), records.size(), st.ToString());
            return false;
        }
        const lock_guard lock{mu_};
        stats_.written += puts;
        return true;
    }

    page read(const query& q, const std::function<bool(std::string_view)>& may_read) const override {
        std::vector<partition_ref> parts;
        {
            const lock_guard lock{parts_mu_};
            for (const auto& [day, h] : partitions_) {
                parts.push_back({day, h});
            }
        }
        page p = run_query(*db_, parts, q, may_read);
        p.kept_from_ms = kept_from_.load(std::memory_order_relaxed);
        return p;
    }

    archive_stats stats() const override {
        std::size_t days = 0;
        bool compacting = false;
        {
            const lock_guard lock{parts_mu_};
            days = partitions_.size();
            std::uint64_t running = 0;
            compacting =
                db_ && db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running) && running > 0;
            for (const auto& [day, h] : partitions_) {
                std::uint64_t pending = 0;
                compacting = compacting ||
                             (db_->GetIntProperty(h.get(), rocksdb::DB::Properties::kCompactionPending, &pending) &&
                              pending > 0);
            }
        }
        const lock_guard lock{mu_};
        archive_stats s = stats_;
        s.partitions = days;
        s.appended = appended_;
        s.dropped += dropped_;
        s.pending_bytes = pending_bytes_;
        s.healthy = last_error_.empty();
        s.compacting = compacting;
        return s;
    }

    std::string last_error() const override {
        const lock_guard lock{mu_};
        return last_error_;
    }

    rocks::backup_info backup(const std::filesystem::path& dir, std::string_view label) override {
        return rocks::create_backup(*db_, dir, label);
    }

    void stop() override {
        {
            const lock_guard lock{mu_};
            if (stopping_) {
                return;
            }
            stopping_ = true;
        }
        cv_.notify_one();
        thread_.join();
        {
            const lock_guard lock{mu_};
            log::info("archive {}: stopped; {} records written this run, {} dropped", opt_.dir.string(), stats_.written,
                      stats_.dropped + dropped_);
        }
        const lock_guard lock{parts_mu_};
        // Memtables to table files: the next start replays no log.
        std::vector<rocksdb::ColumnFamilyHandle*> all;
        for (const auto& [day, h] : partitions_) {
            all.push_back(h.get());
        }
        if (!all.empty() && !failed_.load(std::memory_order_relaxed) && free_bytes() >= opt_.min_free_bytes) {
            if (const rocksdb::Status st = db_->Flush(rocksdb::FlushOptions{}, all); !st.ok()) {
                log::warn("archive {}: flushing at shutdown failed ({}); the next start replays the log",
                          opt_.dir.string(), st.ToString());
            }
        }
        partitions_.clear();
        for (auto* h : meta_handles_) {
            (void)db_->DestroyColumnFamilyHandle(h);
        }
        meta_handles_.clear();
        db_.reset();
    }

private:
    [[noreturn]] void fail_open(const rocksdb::Status& st) const {
        throw archive_error(fmt::format(
            "archive {}: cannot open: {}. What to do: check that the directory is a readable, writable directory on a "
            "healthy disk; a damaged archive can be moved aside (its history is lost, live traffic is not affected)",
            opt_.dir.string(), st.ToString()));
    }

    void open_db() {
        std::error_code ec;
        std::filesystem::create_directories(opt_.dir, ec);
        rocksdb::DBOptions dbo;
        dbo.create_if_missing = true;
        dbo.create_missing_column_families = true;
        dbo.max_background_jobs = 1;          // the archive stays in the background
        dbo.atomic_flush = true;              // a backup's table files hold whole batches
        dbo.info_log = rocks::make_logger();  // no LOG file on the archive's disk
        std::vector<std::string> names;
        const rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(dbo, opt_.dir.string(), &names);
        if (!listed.ok() && std::filesystem::exists(opt_.dir / "CURRENT")) {
            fail_open(listed);
        }
        if (names.empty()) {
            names.push_back(rocksdb::kDefaultColumnFamilyName);
        }
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        for (const auto& n : names) {
            cfs.emplace_back(
                n, n == rocksdb::kDefaultColumnFamilyName ? rocksdb::ColumnFamilyOptions{} : partition_options());
        }
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* raw = nullptr;
        const rocksdb::Status st = rocksdb::DB::Open(dbo, opt_.dir.string(), cfs, &handles, &raw);
        if (!st.ok()) {
            fail_open(st);
        }
        db_.reset(raw);
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (const auto day = layout::partition_day(names[i])) {
                (void)catalogue::present(*db_, handles[i], true);
                const lock_guard lock{parts_mu_};  // uncontended: no other thread yet
                partitions_.emplace(*day, adopt(handles[i]));
            } else {
                meta_handles_.push_back(handles[i]);
            }
        }
        std::string v;
        if (db_->Get(rocksdb::ReadOptions{}, kept_from_key, &v).ok() && v.size() == 8) {
            kept_from_.store(static_cast<std::int64_t>(big_endian::load_u64(v)), std::memory_order_relaxed);
        }
    }

    std::shared_ptr<rocksdb::ColumnFamilyHandle> adopt(rocksdb::ColumnFamilyHandle* h) {
        rocksdb::DB* db = db_.get();
        return {h, [db](rocksdb::ColumnFamilyHandle* p) { (void)db->DestroyColumnFamilyHandle(p); }};
    }

    void run() {
        name_thread("vigil-archive");
        // Below the shards: on a busy machine the archive waits, not the live path.
        (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
        std::uint64_t served = 0;
        for (;;) {
            std::vector<entry> work;
            std::uint64_t wanted = 0;
            bool stopping = false;
            {
                unique_lock lock{mu_};
                // After a refused write, retries wait for the interval, whatever is pending.
                const bool eager = !retrying_;
                cv_.wait_for(lock.native(), opt_.flush_interval, [&]() VIGIL_REQUIRES(mu_) {
                    return stopping_ || flush_requested_ > served || (eager && pending_bytes_ >= wake_bytes);
                });
                work.swap(pending_);
                pending_bytes_ = 0;
                wanted = flush_requested_;
                stopping = stopping_;
            }
            if (!work.empty()) {
                write(work);
            }
            apply_retention();
            {
                const lock_guard lock{mu_};
                flush_done_ = wanted;
                served = wanted;
                if (stopping) {
                    stopped_ = true;
                }
            }
            done_cv_.notify_all();
            if (stopping) {
                return;
            }
        }
    }

    std::shared_ptr<rocksdb::ColumnFamilyHandle> partition(std::int64_t day) {
        const lock_guard lock{parts_mu_};
        if (auto it = partitions_.find(day); it != partitions_.end()) {
            return it->second;
        }
        rocksdb::ColumnFamilyHandle* h = nullptr;
        const rocksdb::Status st = db_->CreateColumnFamily(partition_options(), layout::partition_name(day), &h);
        if (!st.ok()) {
            note_error(st);
            return nullptr;
        }
        auto handle = partitions_.emplace(day, adopt(h)).first->second;
        if (const rocksdb::Status marked = catalogue::mark(*db_, h); !marked.ok()) {
            note_error(marked);  // the day is read by seeking from topic to topic
        }
        return handle;
    }

    void write(std::vector<entry>& work) {
        const std::int64_t start = now_ms();
        // In key order within each day: a topic's new records then go into the memtable one
        // after another, each next to the last (RocksDB's skip list remembers where it was).
        std::sort(work.begin(), work.end(), [](const entry& a, const entry& b) {
            const message& x = *a.msg;
            const message& y = *b.msg;
            if (const auto dx = layout::day_of(x.time_ms()), dy = layout::day_of(y.time_ms()); dx != dy) {
                return dx < dy;
            }
            if (const int c = x.topic().compare(y.topic()); c != 0) {
                return c < 0;
            }
            return std::pair{x.time_ms(), x.origin().seq} < std::pair{y.time_ms(), y.origin().seq};
        });
        rocksdb::WriteBatch wb;
        std::vector<std::string> staged;
        std::uint64_t skipped = 0;
        std::uint64_t puts = 0;      // records put in `wb` (it also holds catalogue keys)
        std::uint64_t unstaged = 0;  // records put in `wb` that the store does not keep
        const std::int64_t floor = kept_from_.load(std::memory_order_relaxed);
        std::int64_t oldest = start;
        std::int64_t day = 0;
        std::shared_ptr<rocksdb::ColumnFamilyHandle> h;
        for (const auto& e : work) {
            const message& m = *e.msg;
            std::string k = layout::key(m.topic(), m.time_ms(), m.origin().seq);
            if (m.time_ms() < floor) {
                ++skipped;  // its day was dropped already
            } else {
                if (!h || layout::day_of(m.time_ms()) != day) {
                    day = layout::day_of(m.time_ms());
                    h = partition(day);
                }
                if (!h) {
                    ++skipped;
                    continue;  // a staged copy stays in the store for the next start
                }
                (void)wb.Put(h.get(), k, layout::value(m, e.client_id));
                ++puts;
                catalogue_.add(wb, h.get(), day, m.topic());
                unstaged += e.staged ? 0 : 1;
                oldest = std::min(oldest, m.time_ms());
            }
            if (e.staged) {
                staged.push_back(std::move(k));
            }
        }
        const rocksdb::Status st = commit(wb, !staged.empty());
        settle_catalogue(st);
        {
            const lock_guard lock{mu_};
            ++stats_.flushes;
            stats_.dropped += skipped;
            if (st.ok()) {
                retrying_ = false;
                stats_.written += puts;
                stats_.lag_ms_max = now_ms() - oldest;
                if (!last_error_.empty()) {
                    log::info("archive {}: writing again", opt_.dir.string());
                    last_error_.clear();
                }
            } else {
                // Acknowledged messages are tried again (the store keeps them meanwhile, and the
                // next start writes them if this one cannot); others are dropped.
                stats_.dropped += unstaged;
                std::size_t kept = 0;
                if (!failed_.load(std::memory_order_relaxed)) {
                    const auto retry =
                        std::stable_partition(work.begin(), work.end(), [](const entry& e) { return e.staged; });
                    kept = static_cast<std::size_t>(retry - work.begin());
                    for (auto it = work.begin(); it != retry; ++it) {
                        pending_bytes_ += entry_bytes(*it);
                    }
                    pending_.insert(pending_.begin(), std::make_move_iterator(work.begin()),
                                    std::make_move_iterator(retry));
                }
                retrying_ = true;
                last_error_ = st.ToString();
                VIGIL_LOG_LIMITED(error,
                                  "archive {}: {} records not written: {}; {} acknowledged ones wait to be written, "
                                  "the others are dropped (live traffic is not affected)",
                                  opt_.dir.string(), work.size(), st.ToString(), kept);
                return;
            }
        }
        if (!staged.empty() && opt_.on_staged_written) {
            opt_.on_staged_written(std::move(staged));
        }
    }

    void settle_catalogue(const rocksdb::Status& st) {
        if (st.ok()) {
            catalogue_.written();
        } else {
            catalogue_.discarded();
        }
    }

    /// Writes `wb` (synced when it holds acknowledged messages), if the disk has room. RocksDB
    /// does not recover from a failed write while it runs (Resume() stays busy: tried with a
    /// full disk that got room again): after one, nothing more is written until vigil
    /// restarts, and the free-space reserve is what keeps that from happening.
    rocksdb::Status commit(rocksdb::WriteBatch& wb, bool sync) {
        if (failed_.load(std::memory_order_acquire)) {
            return rocksdb::Status::IOError("a write failed earlier; the archive takes no more until vigil restarts",
                                            failure_);
        }
        if (const std::uint64_t free = free_bytes(); free < opt_.min_free_bytes) {
            return rocksdb::Status::NoSpace(
                fmt::format("{} MiB free on the archive's disk, below [archive] min_free_disk ({} MiB); writing "
                            "resumes when there is room",
                            free >> 20, opt_.min_free_bytes >> 20));
        }
        if (wb.Count() == 0) {
            return rocksdb::Status::OK();
        }
        rocksdb::WriteOptions wo;
        wo.sync = sync;
        rocksdb::Status st = db_->Write(wo, &wb);
        if (!st.ok()) {
            failure_ = st.ToString();
            st = rocksdb::Status::IOError(failure_, "the archive takes no more writes until vigil restarts");
            failed_.store(true, std::memory_order_release);
            log::error(
                "archive {}: a write failed: {}. The archive takes no more writes until vigil restarts (acknowledged "
                "messages wait in the store and are written then); live traffic is not affected. What to do: fix the "
                "disk, then restart vigil",
                opt_.dir.string(), st.ToString());
        }
        return st;
    }

    /// Free bytes on the archive's disk (the most there can be when it cannot be told).
    std::uint64_t free_bytes() const {
        struct statvfs v {};
        if (opt_.min_free_bytes == 0 || ::statvfs(opt_.dir.c_str(), &v) != 0) {
            return std::numeric_limits<std::uint64_t>::max();
        }
        return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
    }

    void note_error(const rocksdb::Status& st) {
        const lock_guard lock{mu_};
        if (last_error_.empty()) {
            last_error_ = st.ToString();
        }
    }

    std::uint64_t partition_bytes(rocksdb::ColumnFamilyHandle* h) const {
        std::uint64_t sst = 0;
        std::uint64_t mem = 0;
        (void)db_->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
        (void)db_->GetIntProperty(h, rocksdb::DB::Properties::kSizeAllMemTables, &mem);
        return sst + mem;
    }

    void apply_retention() {
        const std::int64_t today = layout::day_of(now_ms());
        std::map<std::int64_t, std::shared_ptr<rocksdb::ColumnFamilyHandle>> parts;
        {
            const lock_guard lock{parts_mu_};
            parts = partitions_;
        }
        std::uint64_t total = 0;
        for (const auto& [day, h] : parts) {
            total += partition_bytes(h.get());
        }
        for (const auto& [day, h] : parts) {
            const bool expired =
                opt_.retention.count() > 0 && (day + 1) * layout::day_ms <= now_ms() - opt_.retention.count();
            const bool over = opt_.max_bytes > 0 && total > opt_.max_bytes && day < today;
            if (!expired && !over) {
                break;  // days in order: the rest are newer
            }
            total -= std::min(total, partition_bytes(h.get()));
            drop(day, h.get(), expired ? "older than retention" : "the archive exceeds max_bytes");
        }
        const lock_guard lock{mu_};
        stats_.bytes_on_disk = total;
    }

    void drop(std::int64_t day, rocksdb::ColumnFamilyHandle* h, std::string_view why) {
        const std::int64_t kept_from = (day + 1) * layout::day_ms;
        std::string v;
        big_endian::append_u64(v, static_cast<std::uint64_t>(kept_from));
        if (failed_.load(std::memory_order_relaxed)) {
            return;  // nothing more is written
        }
        rocksdb::WriteOptions wo;
        wo.sync = true;  // the floor is on disk before the data goes
        rocksdb::Status st = db_->Put(wo, kept_from_key, v);
        if (st.ok()) {
            kept_from_.store(std::max(kept_from_.load(std::memory_order_relaxed), kept_from),
                             std::memory_order_relaxed);
            st = db_->DropColumnFamily(h);
        }
        if (!st.ok()) {
            note_error(st);
            VIGIL_LOG_LIMITED(error, "archive {}: dropping day {} failed: {}", opt_.dir.string(),
                              layout::partition_name(day), st.ToString());
            return;
        }
        {
            const lock_guard lock{parts_mu_};
            partitions_.erase(day);  // the handle goes when the last reader lets it go
        }
        {
            const lock_guard lock{mu_};
            ++stats_.partitions_dropped;
        }
        log::info("archive {}: dropped day {} ({})", opt_.dir.string(), layout::partition_name(day).substr(1), why);
    }

    options opt_;
    std::unique_ptr<rocksdb::DB> db_;
    std::vector<rocksdb::ColumnFamilyHandle*> meta_handles_;  // the default family

    mutable mutex parts_mu_;
    std::map<std::int64_t, std::shared_ptr<rocksdb::ColumnFamilyHandle>> partitions_ VIGIL_GUARDED_BY(parts_mu_);
    std::atomic<std::int64_t> kept_from_{0};

    mutable mutex mu_;
    std::condition_variable cv_;
    std::condition_variable done_cv_;
    std::vector<entry> pending_ VIGIL_GUARDED_BY(mu_);
    std::size_t pending_bytes_ VIGIL_GUARDED_BY(mu_) = 0;
    std::uint64_t appended_ VIGIL_GUARDED_BY(mu_) = 0;
    std::uint64_t dropped_ VIGIL_GUARDED_BY(mu_) = 0;
    std::uint64_t flush_requested_ VIGIL_GUARDED_BY(mu_) = 0;
    std::uint64_t flush_done_ VIGIL_GUARDED_BY(mu_) = 0;
    bool stopping_ VIGIL_GUARDED_BY(mu_) = false;
    bool stopped_ VIGIL_GUARDED_BY(mu_) = false;
    archive_stats stats_ VIGIL_GUARDED_BY(mu_);
    std::string last_error_ VIGIL_GUARDED_BY(mu_);
    std::atomic<bool> failed_{false};  // a RocksDB write failed: no more until restart
    std::string failure_;              // why (written once, before failed_ is set, by the writer)
    bool retrying_ = false;            // the last write was refused (compactor thread)
    catalogue::writer catalogue_;      // the compactor thread's, and restore()'s before any append
    std::thread thread_;               // last: starts after everything it uses
};

}  // namespace

std::unique_ptr<archive> archive::open(const options& o) { return std::make_unique<rocks_archive>(o); }

}  // namespace vigil::archive
