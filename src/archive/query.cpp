#include "query.hpp"

#include "layout.hpp"

#include <vigil/core/topic.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>

namespace vigil::archive {
namespace {

/// The order of a page: time, then topic, then sequence.
bool before(const record& a, const record& b) {
    return std::tie(a.time_ms, a.topic, a.seq) < std::tie(b.time_ms, b.topic, b.seq);
}

bool before(const record& a, const position& b) {
    return std::tie(a.time_ms, a.topic, a.seq) < std::tie(b.time_ms, b.topic, b.seq);
}

bool after(const record& a, const position& b) {
    return std::tie(b.time_ms, b.topic, b.seq) < std::tie(a.time_ms, a.topic, a.seq);
}

/// One topic's records in [lo, hi) of one partition, read in the query's direction: the
/// head is the next record not past the cursor. Its key is parsed; its value only when taken.
class topic_reader {
public:
    topic_reader(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string topic, std::int64_t lo, std::int64_t hi, const query& q)
        : topic_(std::move(topic)), lower_(layout::key_at(topic_, lo)), upper_(layout::key_at(topic_, hi)), lower_s_(lower_), upper_s_(upper_), q_(q) {
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
    [[nodiscard]] const record& head() const noexcept { return head_; }

    /// The head, whole (its value parsed); then moves on. False for a damaged value (skipped).
    bool take(record& out) {
        out = head_;
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
            head_.topic = topic_;
            head_.time_ms = k->time_ms;
            head_.seq = k->seq;
            if (q_.after && (q_.descending ? !before(head_, *q_.after) : !after(head_, *q_.after))) {
                continue;
            }
            valid_ = true;
            return;
        }
    }

    std::string topic_;
    std::string lower_;
    std::string upper_;
    rocksdb::Slice lower_s_;
    rocksdb::Slice upper_s_;
    const query& q_;
    std::unique_ptr<rocksdb::Iterator> it_;
    record head_;
    bool valid_ = false;
};

/// Calls `f(topic)` for every topic in the partition that matches `filter`, once each.
template <class F>
void for_each_topic(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view filter, F&& f) {
    const auto wild = filter.find_first_of("+#");
    if (wild == std::string_view::npos) {
        f(filter);
        return;
    }
    std::string prefix{filter.substr(0, wild)};
    if (filter[wild] == '#' && !prefix.empty()) {
        prefix.pop_back();  // "a/#" also matches "a" [MQTT-4.7.1-2]
    }
    std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{}, cf)};
    for (it->Seek(prefix); it->Valid();) {
        const std::string_view k{it->key().data(), it->key().size()};
        const auto nul = k.find('\0');
        const std::string topic{k.substr(0, nul)};
        if (!topic.starts_with(prefix)) {
            break;
        }
        if (topic::matches(filter, topic)) {
            f(topic);
        }
        it->Seek(topic + '\x01');  // past every record of this topic, onto the next topic
    }
}

/// One partition's records of a query, in the query's order: one reader per topic, merged by
/// a heap, so it reads what it returns plus one record per topic, however many topics match.
class merger {
public:
    merger(rocksdb::DB& db, const partition_ref& part, const query& q, const std::function<bool(std::string_view)>& may_read) : q_(q) {
        const std::int64_t lo = std::max(q.from_ms, part.day * layout::day_ms);
        const std::int64_t hi = std::min(q.to_ms, (part.day + 1) * layout::day_ms);
        for_each_topic(db, part.handle.get(), q.filter, [&](std::string_view topic) {
            if (may_read(topic)) {
                auto r = std::make_unique<topic_reader>(db, part.handle.get(), std::string{topic}, lo, hi, q);
                if (r->valid()) {
                    readers_.push_back(std::move(r));
                }
            }
        });
        std::make_heap(readers_.begin(), readers_.end(), later{q_});
    }

    /// The next record; false when the partition has no more.
    bool next(record& out) {
        while (!readers_.empty()) {
            std::pop_heap(readers_.begin(), readers_.end(), later{q_});
            const bool ok = readers_.back()->take(out);
            if (readers_.back()->valid()) {
                std::push_heap(readers_.begin(), readers_.end(), later{q_});
            } else {
                readers_.pop_back();
            }
            if (ok) {
                return true;
            }
        }
        return false;
    }

private:
    /// The heap's top is the reader whose head comes first in the query's order.
    struct later {
        const query& q;
        bool operator()(const std::unique_ptr<topic_reader>& a, const std::unique_ptr<topic_reader>& b) const {
            return q.descending ? before(a->head(), b->head()) : before(b->head(), a->head());
        }
    };

    const query& q_;
    std::vector<std::unique_ptr<topic_reader>> readers_;
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

page run_query(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q, const std::function<bool(std::string_view)>& may_read) {
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

void run_scan(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q, const std::function<void(const page&)>& each) {
    page p;
    for (const partition_ref* part : covered(parts, q)) {
        merger m{db, *part, q, [](std::string_view) { return true; }};
        for (record r; m.next(r);) {
            p.records.push_back(std::move(r));
            if (p.records.size() == q.limit) {
                each(p);
                p.records.clear();
            }
        }
    }
    if (!p.records.empty()) {
        each(p);
    }
}

}  // namespace vigil::archive
