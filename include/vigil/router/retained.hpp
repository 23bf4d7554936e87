#pragma once
/// Retained messages, one per topic (MQTT 3.1.1 §3.3.1.3).

#include <vigil/core/message.hpp>

#include <array>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::router {

/// Retained messages partitioned by topic hash; each partition has its own short lock,
/// never held across I/O, so shards touching different topics do not contend.
/// Thread safety: safe.
class retained_store {
public:
    /// Stores `m` as its topic's retained message, or clears it when the payload is empty
    /// [MQTT-3.3.1-10, MQTT-3.3.1-11].
    void update(const message_ref& m);

    /// Every retained message whose topic matches `filter`, in topic order per partition.
    /// Complexity: a direct lookup for a filter without wildcards; otherwise a scan of the
    /// topics that share the filter's literal prefix.
    [[nodiscard]] std::vector<message_ref> match(std::string_view filter) const;

    [[nodiscard]] std::size_t size() const;

private:
    static constexpr std::size_t partitions = 16;
    struct partition {
        mutable std::mutex mu;
        // Keyed by a view of the message's own topic (the value keeps it alive): no copy.
        std::map<std::string_view, message_ref> by_topic;  // guarded by mu
    };
    [[nodiscard]] partition& part_for(std::string_view topic) const noexcept;

    mutable std::array<partition, partitions> parts_;
};

}  // namespace vigil::router
