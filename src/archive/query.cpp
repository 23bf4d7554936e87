#include "query.hpp"

#include "catalogue.hpp"
#include "layout.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>

namespace vigil::archive {
namespace {

/// One topic's records in [lo, hi) of one partition, read in the query's direction: the
/// head is the next record not past the cursor. Its key is parsed; its value only when taken.
class topic_reader {
public:
    topic_reader(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string topic, std::int64_t lo, std::int64_t hi,
                 const query& q)
        : topic_(std::move(topic)),
          lower_(layout::key_at(topic_, lo)),
          upper_(layout::key_at(topic_, hi)),
          lower_s_(lower_),
          upper_s_(upper_),
          q_(q) {
        rocksdb::ReadOptions ro;
        ro.iterate_lower_bound = &lower_s_;
        ro.iterate_upper_bound = &upper_s_;
        it_.reset(db.NewIterator(ro, cf));
        if (q.after) {
            // Straight to the cursor's time: only records of that very millisecond are skipped one by one.
            const std::string at = layout::key_at(topic_, q.after->time_ms + (q.descending ? 1 : 0));
            if (q.descending) {
                it_->SeekForPrev(at);
            } else {
                it_->Seek(at);
            }
        } else if (q.descending) {
            it_->SeekToLast();
        } else {
            it_->SeekToFirst();
        }
        settle();
    }

    [[nodiscard]] bool valid() const noexcept { return valid_; }
    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] std::int64_t time_ms() const noexcept { return time_ms_; }
    [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }

    /// The head, whole (its value parsed), into `out` (whose strings are reused); then moves
    /// on. False for a damaged value (skipped).
    bool take(record& out) {
        out.topic.assign(topic_);
        out.time_ms = time_ms_;
        out.seq = seq_;
        const bool ok = layout::parse_value({it_->value().data(), it_->value().size()}, out);
        step();
        settle();
        return ok;
    }

private:
    void step() { q_.descending ? it_->Prev() : it_->Next(); }

    /// Onto the next record past the cursor (or none).
    void settle() {
        for (valid_ = false; it_->Valid(); step()) {
            const auto k = layout::parse_key({it_->key().data(), it_->key().size()});
            if (!k) {
                continue;
            }
            time_ms_ = k->time_ms;
            seq_ = k->seq;
            if (q_.after && !beyond(*q_.after)) {
                continue;
            }
            valid_ = true;
            return;
        }
    }

    /// Whether the head comes strictly after `p` in the query's order.
    [[nodiscard]] bool beyond(const position& p) const {
        const auto head = std::tie(time_ms_, topic_, seq_);
        const auto at = std::tie(p.time_ms, p.topic, p.seq);
        return q_.descending ? head < at : at < head;
    }

    std::string topic_;
    std::string lower_;
    std::string upper_;
    rocksdb::Slice lower_s_;
    rocksdb::Slice upper_s_;
    const query& q_;
    std::unique_ptr<rocksdb::Iterator> it_;
    std::int64_t time_ms_ = 0;
    std::uint64_t seq_ = 0;
    bool valid_ = false;
};

/// One partition's records of a query, in the query's order: one reader per topic, merged by
/// a heap, so it reads what it returns plus one record per topic, however many topics match.
/// The heap holds each reader's head time and sequence, so ordering rarely leaves it.
class merger {
public:
    merger(rocksdb::DB& db, const partition_ref& part, const query& q,
           const std::function<bool(std::string_view)>& may_read)
        : q_(q) {
        const std::int64_t lo = std::max(q.from_ms, part.day * layout::day_ms);
        const std::int64_t hi = std::min(q.to_ms, (part.day + 1) * layout::day_ms);
        catalogue::for_each_topic(db, part.handle.get(), q.filter, [&](std::string_view topic) {
            if (may_read(topic)) {
                auto r = std::make_unique<topic_reader>(db, part.handle.get(), std::string{topic}, lo, hi, q);
                if (r->valid()) {
                    heap_.push_back({r->time_ms(), r->seq(), r.get()});
                    readers_.push_back(std::move(r));
                }
            }
        });
        std::make_heap(heap_.begin(), heap_.end(), later{q_.descending});
    }

    /// The next record into `out` (its strings reused); false when the partition has no more.
    bool next(record& out) {
        while (!heap_.empty()) {
            std::pop_heap(heap_.begin(), heap_.end(), later{q_.descending});
            head& h = heap_.back();
            const bool ok = h.reader->take(out);
            if (h.reader->valid()) {
                h.time_ms = h.reader->time_ms();
                h.seq = h.reader->seq();
                std::push_heap(heap_.begin(), heap_.end(), later{q_.descending});
            } else {
                heap_.pop_back();
            }
            if (ok) {
                return true;
            }
        }
        return false;
    }

private:
    struct head {
        std::int64_t time_ms;
        std::uint64_t seq;
        topic_reader* reader;
    };

    /// The heap's top is the reader whose head comes first in the query's order: time, then
    /// topic, then sequence.
    struct later {
        bool descending;
        bool operator()(const head& a, const head& b) const { return descending ? first(a, b) : first(b, a); }
        static bool first(const head& a, const head& b) {
            if (a.time_ms != b.time_ms) {
                return a.time_ms < b.time_ms;
            }
            if (const int c = a.reader->topic().compare(b.reader->topic()); c != 0) {
                return c < 0;
            }
            return a.seq < b.seq;
        }
    };

    const query& q_;
    std::vector<std::unique_ptr<topic_reader>> readers_;
    std::vector<head> heap_;
};

/// The partitions a query covers, in its order.
std::vector<const partition_ref*> covered(const std::vector<partition_ref>& parts, const query& q) {
    std::vector<const partition_ref*> order;
    if (q.from_ms >= q.to_ms) {
        return order;
    }
    const std::int64_t first_day = layout::day_of(q.from_ms);
    const std::int64_t last_day = layout::day_of(q.to_ms - 1);
    for (const auto& part : parts) {
        if (part.day >= first_day && part.day <= last_day) {
            order.push_back(&part);
        }
    }
    if (q.descending) {
        std::reverse(order.begin(), order.end());
    }
    return order;
}

}  // namespace

page run_query(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q,
               const std::function<bool(std::string_view)>& may_read) {
    page p;
    if (q.limit == 0) {
        return p;
    }
    const std::size_t want = q.limit + 1;  // one more: is there a next page?
    // Partitions are disjoint in time, so the next one's records follow this one's.
    for (const partition_ref* part : covered(parts, q)) {
        merger m{db, *part, q, may_read};
        for (record r; p.records.size() < want && m.next(r);) {
            p.records.push_back(std::move(r));
        }
        if (p.records.size() >= want) {
            break;
        }
    }
    if (p.records.size() > q.limit) {
        p.records.resize(q.limit);
        const record& last = p.records.back();
        p.next = position{last.time_ms, last.topic, last.seq};
    }
    return p;
}

void run_scan(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q,
              const std::function<void(const page&)>& each) {
    // One page's records are filled again for the next page: their strings keep their room.
    page p;
    p.records.resize(q.limit);
    std::size_t n = 0;
    for (const partition_ref* part : covered(parts, q)) {
        merger m{db, *part, q, [](std::string_view) { return true; }};
        while (m.next(p.records[n])) {
            if (++n == q.limit) {
                each(p);
                n = 0;
            }
        }
    }
    if (n > 0) {
        p.records.resize(n);
        each(p);
    }
}

}  // namespace vigil::archive
