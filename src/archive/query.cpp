#include "query.hpp"

#include "layout.hpp"

#include <vigil/core/topic.hpp>

#include <algorithm>
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

/// Reads one topic's records in [lo, hi) of one partition, in the query's direction, skipping
/// those not past the cursor, until `need` are found.
void scan_topic(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view topic, std::int64_t lo, std::int64_t hi, const query& q, std::size_t need, std::vector<record>& out) {
    const std::string lower = layout::key_at(topic, lo);
    const std::string upper = layout::key_at(topic, hi);
    const rocksdb::Slice lower_s{lower};
    const rocksdb::Slice upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(ro, cf)};
    std::size_t found = 0;
    for (q.descending ? it->SeekToLast() : it->SeekToFirst(); it->Valid() && found < need; q.descending ? it->Prev() : it->Next()) {
        const auto k = layout::parse_key({it->key().data(), it->key().size()});
        if (!k) {
            continue;
        }
        record r;
        r.topic.assign(k->topic);
        r.time_ms = k->time_ms;
        r.seq = k->seq;
        if (q.after && (q.descending ? !before(r, *q.after) : !after(r, *q.after))) {
            continue;
        }
        if (!layout::parse_value({it->value().data(), it->value().size()}, r)) {
            continue;
        }
        out.push_back(std::move(r));
        ++found;
    }
}

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

}  // namespace

page run_query(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q, const std::function<bool(std::string_view)>& may_read) {
    page p;
    if (q.limit == 0 || q.from_ms >= q.to_ms) {
        return p;
    }
    const std::int64_t first_day = layout::day_of(q.from_ms);
    const std::int64_t last_day = layout::day_of(q.to_ms - 1);
    std::vector<const partition_ref*> order;
    for (const auto& part : parts) {
        if (part.day >= first_day && part.day <= last_day) {
            order.push_back(&part);
        }
    }
    if (q.descending) {
        std::reverse(order.begin(), order.end());
    }
    const std::size_t want = q.limit + 1;  // one more: is there a next page?
    for (const partition_ref* part : order) {
        const std::int64_t lo = std::max(q.from_ms, part->day * layout::day_ms);
        const std::int64_t hi = std::min(q.to_ms, (part->day + 1) * layout::day_ms);
        std::vector<record> found;
        const std::size_t need = want - p.records.size();
        for_each_topic(db, part->handle.get(), q.filter, [&](std::string_view topic) {
            if (may_read(topic)) {
                scan_topic(db, part->handle.get(), topic, lo, hi, q, need, found);
            }
        });
        // Partitions are disjoint in time, so this one's records follow the previous ones'.
        if (q.descending) {
            std::sort(found.begin(), found.end(), [](const record& a, const record& b) { return before(b, a); });
        } else {
            std::sort(found.begin(), found.end(), [](const record& a, const record& b) { return before(a, b); });
        }
        found.resize(std::min(found.size(), need));
        std::move(found.begin(), found.end(), std::back_inserter(p.records));
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

}  // namespace vigil::archive
