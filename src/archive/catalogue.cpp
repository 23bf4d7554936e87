#include "catalogue.hpp"

#include "layout.hpp"

#include <vigil/core/topic.hpp>

#include <memory>

namespace vigil::archive::catalogue {

void writer::add(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* cf, std::int64_t day, std::string_view topic) {
    if (const auto it = known_.find(day); it != known_.end() && it->second.contains(topic)) {
        return;
    }
    if (batch_[day].emplace(topic).second) {
        (void)wb.Put(cf, layout::catalogue_key(topic), {});
    }
}

void writer::written() {
    for (auto& [day, added] : batch_) {
        auto& known = known_[day];
        if (known.empty()) {
            known = std::move(added);
        } else {
            known.merge(added);
        }
    }
    batch_.clear();
    while (known_.size() > 2) {
        known_.erase(known_.begin());
    }
}

rocksdb::Status mark(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return db.Put(wo, cf, layout::catalogue_marker, {});
}

bool present(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, bool mark_if_empty) {
    std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{}, cf)};
    it->SeekToFirst();
    if (it->Valid()) {
        return it->key() == rocksdb::Slice{layout::catalogue_marker.data(), layout::catalogue_marker.size()};
    }
    return it->status().ok() && mark_if_empty && mark(db, cf).ok();
}

namespace {

/// The topics before a filter's first wildcard, without the '/' before a '#': "a/#" also
/// matches "a" [MQTT-4.7.1-2].
std::string literal_prefix(std::string_view filter, std::size_t wild) {
    std::string prefix{filter.substr(0, wild)};
    if (filter[wild] == '#' && !prefix.empty()) {
        prefix.pop_back();
    }
    return prefix;
}

}  // namespace

void for_each_topic(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view filter,
                    const std::function<void(std::string_view)>& f) {
    const auto wild = filter.find_first_of("+#");
    if (wild == std::string_view::npos) {
        f(filter);
        return;
    }
    const std::string prefix = literal_prefix(filter, wild);
    std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{}, cf)};
    if (present(db, cf, false)) {
        for (it->Seek(layout::catalogue_key(prefix)); it->Valid(); it->Next()) {
            const std::string_view k{it->key().data(), it->key().size()};
            if (k == layout::catalogue_marker) {
                continue;
            }
            const auto topic = layout::catalogue_topic(k);
            if (!topic || !topic->starts_with(prefix)) {
                break;
            }
            if (topic::matches(filter, *topic)) {
                f(*topic);
            }
        }
        return;
    }
    // No catalogue: from topic to topic, seeking past each one's records.
    for (it->Seek(prefix.empty() ? std::string{"\x01"} : prefix); it->Valid();) {
        const std::string_view k{it->key().data(), it->key().size()};
        const std::string topic{k.substr(0, k.find('\0'))};
        if (!topic.starts_with(prefix)) {
            break;
        }
        if (topic::matches(filter, topic)) {
            f(topic);
        }
        it->Seek(topic + '\x01');
    }
}

}  // namespace vigil::archive::catalogue
