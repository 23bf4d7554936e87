// The RocksDB store and its group-commit thread.
//
// Design note. Shards hand over one batch per loop pass and never wait. The store thread
// takes everything queued since its previous write, applies it as one rocksdb::WriteBatch
// and one Write (with sync in durable mode), then runs the completions in submission order.
// Under load the queue fills while a write is in progress, so the next write carries many
// batches and the cost of one fsync is shared among them. Batches linked into a group (a
// QoS 2 message's deliveries on several shards) are written together: the thread writes the
// longest queued prefix in which every group is complete, and waits for the missing parts
// otherwise, so no crash can keep some of a group's writes and not the others.
#include <vigil/store/store.hpp>

#include "rocks.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/core/thread_name.hpp>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <optional>
#include <unordered_map>

#include <sys/statvfs.h>

namespace vigil::store {

void write_batch::put(family f, std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    ops_.push_back({kind::put, f, std::move(key), std::move(value)});
}

void write_batch::erase(family f, std::string key) {
    bytes_ += key.size();
    ops_.push_back({kind::erase, f, std::move(key), {}});
}

void write_batch::erase_prefix(family f, std::string prefix) {
    bytes_ += prefix.size();
    ops_.push_back({kind::erase_prefix, f, std::move(prefix), {}});
}

namespace {

/// The smallest key greater than every key starting with `prefix`.
std::string prefix_end(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) {
        prefix.pop_back();
    }
    if (!prefix.empty()) {
        prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
    }
    return prefix;
}

class rocks_store final : public store {
public:
    rocks_store(rocks_db db, bool sync, std::uint64_t min_free)
        : db_(std::move(db)), sync_(sync), min_free_(min_free), thread_([this] { run(); }) {}

    ~rocks_store() override { stop(); }
    rocks_store(const rocks_store&) = delete;
    rocks_store& operator=(const rocks_store&) = delete;

    void submit(write_batch b, completion done) override {
        const std::size_t bytes = b.bytes();
        {
            const lock_guard lock{mu_};
            queue_.push_back({std::move(b), std::move(done)});
            ++stats_.batches;
        }
        backlog_.fetch_add(bytes, std::memory_order_relaxed);
        cv_.notify_one();
    }

    void for_each(family fam, const std::function<void(std::string_view, std::string_view)>& f) const override {
        rocksdb::ReadOptions ro;
        ro.fill_cache = false;
        std::unique_ptr<rocksdb::Iterator> it{db_.db->NewIterator(ro, db_.handle(fam))};
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            f({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()});
        }
        if (!it->status().ok()) {
            throw store_error(
                fmt::format("data_dir {}: reading the store failed: {}. Nothing was discarded. What to do: run `vigil "
                            "db check {}`; restore data_dir from a backup, or move it aside to start empty",
                            db_.path, it->status().ToString(), db_.path));
        }
    }

    store_stats stats() const override {
        store_stats s;
        {
            const lock_guard lock{mu_};
            s = stats_;
        }
        s.backlog_bytes = backlog_.load(std::memory_order_relaxed);
        for (auto* h : db_.handles) {
            std::uint64_t sst = 0;
            std::uint64_t mem = 0;
            (void)db_.db->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
            (void)db_.db->GetIntProperty(h, rocksdb::DB::Properties::kSizeAllMemTables, &mem);
            s.size_bytes += sst + mem;
        }
        return s;
    }

    std::size_t backlog_bytes() const noexcept override { return backlog_.load(std::memory_order_relaxed); }

    bool healthy() const noexcept override { return healthy_.load(std::memory_order_acquire); }

    bool disk_low() const noexcept override { return disk_low_.load(std::memory_order_relaxed); }

    std::string last_error() const override {
        const lock_guard lock{mu_};
        return last_error_;
    }

    rocks::backup_info backup(const std::filesystem::path& dir, std::string_view label) override {
        return rocks::create_backup(*db_.db, dir, label);
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
        if (healthy()) {
            // Memtables to table files: the next start opens without replaying the log.
            const rocksdb::Status st = db_.db->Flush(rocksdb::FlushOptions{}, db_.handles);
            if (!st.ok()) {
                log::warn("{}: flushing the store at shutdown failed ({}); the next start replays the log", db_.path,
                          st.ToString());
            }
        }
    }

private:
    struct pending {
        write_batch batch;
        completion done;
    };

    /// How many batches at the head of the queue can be written now: the longest prefix in
    /// which every group has all its parts.
    std::size_t closed_prefix() const VIGIL_REQUIRES(mu_) {
        std::size_t cut = 0;
        std::size_t open = 0;
        std::unordered_map<std::uint64_t, std::uint32_t> seen;
        for (std::size_t i = 0; i < queue_.size(); ++i) {
            for (const auto& l : queue_[i].batch.links()) {
                const std::uint32_t n = ++seen[l.id];
                open += n == 1 ? 1 : 0;
                open -= n == l.parts ? 1 : 0;
            }
            if (open == 0) {
                cut = i + 1;
            }
        }
        return cut;
    }

    void run() {
        name_thread("vigil-store");
        check_free_space();
        std::vector<pending> work;
        std::size_t waiting = 0;  // queued batches that could not be written without the rest of a group
        for (;;) {
            {
                unique_lock lock{mu_};
                // Wakes at least every second to look at the disk's free space.
                const bool woken = cv_.wait_for(lock.native(), std::chrono::seconds{1}, [&]() VIGIL_REQUIRES(mu_) {
                    return queue_.size() > waiting || stopping_;
                });
                if (!woken) {
                    lock.unlock();
                    check_free_space();
                    continue;
                }
                if (queue_.empty()) {
                    return;  // stopping, and everything submitted is committed
                }
                // Stopping: the shards are gone and no part is still coming; write what there is.
                const std::size_t cut = stopping_ ? queue_.size() : closed_prefix();
                if (cut == 0) {
                    waiting = queue_.size();
                    continue;
                }
                waiting = 0;
                const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(cut);
                work.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
                queue_.erase(queue_.begin(), end);
            }
            commit(work);
            work.clear();
            check_free_space();
        }
    }

    /// Updates disk_low_ from statvfs, at most every 100 ms; logs when it changes.
    void check_free_space() {
        if (min_free_ == 0) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_space_check_ < std::chrono::milliseconds{100}) {
            return;
        }
        last_space_check_ = now;
        struct statvfs st {};
        if (::statvfs(db_.path.c_str(), &st) != 0) {
            return;
        }
        const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
        const bool low = free < min_free_;
        if (low != disk_low_.exchange(low, std::memory_order_relaxed)) {
            if (low) {
                log::warn(
                    "{}: {} MiB free, below min_free_disk ({} MiB): new retained messages are refused until there is "
                    "room",
                    db_.path, free >> 20, min_free_ >> 20);
            } else {
                log::info("{}: {} MiB free again: retained messages are stored again", db_.path, free >> 20);
            }
        }
    }

    void commit(std::vector<pending>& work) {
        rocksdb::WriteBatch wb;
        std::size_t bytes = 0;
        std::uint64_t ops = 0;
        bool sync = false;
        for (const auto& p : work) {
            sync = sync || p.batch.sync();
            bytes += p.batch.bytes();
            ops += p.batch.size();
            for (const auto& op : p.batch.ops()) {
                auto* cf = db_.handle(op.f);
                switch (op.k) {
                    case write_batch::kind::put:
                        wb.Put(cf, op.key, op.value);
                        break;
                    case write_batch::kind::erase:
                        wb.Delete(cf, op.key);
                        break;
                    case write_batch::kind::erase_prefix:
                        wb.DeleteRange(cf, op.key, prefix_end(op.key));
                        break;
                }
            }
        }
        rocksdb::Status st;
        const bool fsync = sync_ && sync && wb.Count() > 0;
        std::optional<double> fsync_seconds;
        const auto t0 = std::chrono::steady_clock::now();
        if (!healthy_.load(std::memory_order_relaxed)) {
            // After a failed WAL write RocksDB is read-only until reopened (and Debian's build
            // asserts on a second write to the failed log): refuse instead of writing.
            st = rocksdb::Status::IOError("the store failed earlier", last_error());
        } else if (wb.Count() > 0) {
            // The fsync apart from the append, so each is timed; nothing is acknowledged (and
            // nothing but recovery reads this database) before both have returned.
            st = db_.db->Write(rocksdb::WriteOptions{}, &wb);
            if (st.ok() && fsync) {
                const auto written = std::chrono::steady_clock::now();
                st = db_.db->SyncWAL();
                fsync_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - written).count();
            }
        }
        const auto end = std::chrono::steady_clock::now();
        const auto us =
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(end - t0).count());
        const bool ok = st.ok();
        {
            const lock_guard lock{mu_};
            ++stats_.commits;
            stats_.syncs += fsync_seconds ? 1u : 0u;
            stats_.ops += ops;
            stats_.commit_us_max = std::max(stats_.commit_us_max, us);
            stats_.commit_seconds.add(std::chrono::duration<double>(end - t0).count());
            stats_.commit_writes.add(static_cast<double>(ops));
            if (fsync_seconds) {
                stats_.fsync_seconds.add(*fsync_seconds);
            }
            if (!ok) {
                ++stats_.failures;
                if (last_error_.empty()) {
                    last_error_ = st.ToString();
                }
            }
        }
        if (!ok) {
            healthy_.store(false, std::memory_order_release);
            VIGIL_LOG_LIMITED(error,
                              "{}: writing the store failed: {}. Nothing in it is acknowledged; free disk space or fix "
                              "the device, then restart vigil",
                              db_.path, st.ToString());
        }
        backlog_.fetch_sub(bytes, std::memory_order_relaxed);
        for (auto& p : work) {
            p.done(ok);
        }
    }

    rocks_db db_;
    bool sync_;
    std::uint64_t min_free_;
    std::chrono::steady_clock::time_point last_space_check_{};  // store thread only
    // relaxed: a flag shards read to refuse retained data; a moment's staleness is harmless.
    std::atomic<bool> disk_low_{false};
    mutable mutex mu_;
    std::condition_variable cv_;
    std::vector<pending> queue_ VIGIL_GUARDED_BY(mu_);
    bool stopping_ VIGIL_GUARDED_BY(mu_) = false;
    store_stats stats_ VIGIL_GUARDED_BY(mu_);
    std::string last_error_ VIGIL_GUARDED_BY(mu_);
    std::atomic<std::size_t> backlog_{0};
    std::atomic<bool> healthy_{true};
    std::thread thread_;  // last: starts after everything it uses
};

}  // namespace

std::unique_ptr<store> store::open(const options& o) {
    return std::make_unique<rocks_store>(open_rocks(o.dir, false), o.sync, o.min_free_bytes);
}

check_report check(const std::filesystem::path& dir) {
    check_report r;
    try {
        rocks_db db = open_rocks(dir, true);
        const rocksdb::Status st = db.db->VerifyChecksum();
        std::string text = fmt::format("{}: ", dir.string());
        if (!st.ok()) {
            r.text = fmt::format("{}checksum verification FAILED: {}\n", text, st.ToString());
            return r;
        }
        text += "checksums verified\n";
        for (std::size_t i = 0; i < family_count; ++i) {
            if (db.handles[i] == nullptr) {
                text += fmt::format("  {:<14} absent (a store written by an older vigil)\n", family_names[i]);
                continue;
            }
            std::uint64_t n = 0;
            std::unique_ptr<rocksdb::Iterator> it{db.db->NewIterator(rocksdb::ReadOptions{}, db.handles[i])};
            for (it->SeekToFirst(); it->Valid(); it->Next()) {
                ++n;
            }
            if (!it->status().ok()) {
                r.text = fmt::format("{}reading {} FAILED: {}\n", text, family_names[i], it->status().ToString());
                return r;
            }
            text += fmt::format("  {:<14} {} entries\n", family_names[i], n);
        }
        r.ok = true;
        r.text = std::move(text);
    } catch (const store_error& e) {
        r.text = fmt::format("{}\n", e.what());
    }
    return r;
}

}  // namespace vigil::store
