#pragma once
/// Retained messages, one per topic (MQTT 3.1.1 §3.3.1.3).

#include <vigil/core/message.hpp>
#include <vigil/core/sync.hpp>

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::router {

/// Retained messages partitioned by topic hash; each partition has its own short lock,
/// never held across I/O, so shards touching different topics do not contend.
/// Also the last-value cache, whose changes are written through to disk in batches: each
/// topic carries a "changed" mark, so a writer learns in the same lookup whether it must
/// remember the topic for its next batch.
/// Thread safety: safe.
class retained_store {
public:
    /// Stores `m` as its topic's message, or clears it when the payload is empty
    /// [MQTT-3.3.1-10, MQTT-3.3.1-11], and marks the topic changed. Returns true when the
    /// topic was not marked before (the caller remembers it and calls `take_changed` later);
    /// false when it already was, or when an empty payload cleared nothing.
    bool update(const message_ref& m);

    /// Stores `m` unmarked: it came from disk, which already holds it.
    void restore(const message_ref& m);

    /// For a topic `update` reported: nothing when its change was taken already (by this or
    /// another writer); an empty reference when the topic was cleared; otherwise its newest
    /// message, whose mark is removed.
    [[nodiscard]] std::optional<message_ref> take_changed(std::string_view topic);

    /// Every retained message whose topic matches `filter`, in topic order per partition.
    /// Complexity: a direct lookup for a filter without wildcards; otherwise a scan of the
    /// topics that share the filter's literal prefix.
    [[nodiscard]] std::vector<message_ref> match(std::string_view filter) const;

    struct totals {
        std::size_t count = 0;
        std::size_t bytes = 0;  ///< topics and payloads
    };
    [[nodiscard]] totals usage() const;

private:
    static constexpr std::size_t partitions = 16;
    struct partition {
        mutable mutex mu;
        struct entry {
            message_ref msg;
            bool changed = false;
        };
        // Owned keys: a newer message for a topic replaces only the value.
        std::map<std::string, entry, std::less<>> by_topic VIGIL_GUARDED_BY(mu);
        std::size_t bytes VIGIL_GUARDED_BY(mu) = 0;
    };
    [[nodiscard]] partition& part_for(std::string_view topic) const noexcept;

    mutable std::array<partition, partitions> parts_;
};

}  // namespace vigil::router
