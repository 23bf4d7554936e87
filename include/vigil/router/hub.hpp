#pragma once
/// How a non-MQTT front door (the WebSocket push gateway) takes part in routing: its
/// connections are `sink`s that the broker registers as router subscribers, exactly like MQTT
/// sessions, on the shard they live on.

#include <vigil/core/message.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::router {

/// A subscriber that is not an MQTT session. Thread safety: shard-affine (its shard calls it).
class sink {
public:
    /// A message matching one of the sink's filters (once, however many match).
    virtual void deliver(const message_ref& m) = 0;

protected:
    ~sink() = default;
};

/// A message from the history, with its origin sequence (message_origin::seq) when it was
/// received: with its topic and time, what tells it apart from a live copy.
struct archived_message {
    message_ref msg;
    std::uint64_t seq = 0;
};

/// What the history holds since a time, for a subscription's filters.
struct replay {
    /// In the order received (time, then origin sequence), each once, at most the `max` asked for.
    std::vector<archived_message> messages;
    /// False when the history cannot say everything since that time: the archive is off,
    /// retention dropped part of the range, a filter matches topics it does not keep, or
    /// there was more than `max`.
    bool complete = false;
};

/// What the push gateway did, for the metrics: a dashboard connection opened or closed, a live
/// message queued to one, an older state value replaced by a newer one for a slow one
/// (conflated), a message withheld from one that may not read it, one closed with 1013.
enum class push_event : std::uint8_t { opened, closed, sent, conflated, denied, too_slow };

/// The broker's side. Every call must be made on a shard thread, for a sink living there
/// (history_since excepted).
class hub {
public:
    virtual void attach(sink& s) = 0;
    /// Removes every subscription of `s`; it receives nothing more.
    virtual void detach(sink& s) = 0;
    virtual void subscribe(sink& s, std::string_view filter) = 0;
    virtual void unsubscribe(sink& s, std::string_view filter) = 0;
    /// The last values and retained messages matching `filter`, newest per topic.
    [[nodiscard]] virtual std::vector<message_ref> snapshot(std::string_view filter) const = 0;
    /// Routes `m` from the calling shard, as if an MQTT client had published it; what it
    /// retains counts against `publisher`'s quota; `done(true)` runs on this shard once it is as safe as an MQTT PUBACK
    /// says (committed to the store in durable mode), `done(false)` if the store failed to commit it.
    virtual void publish(const message_ref& m, const std::string& publisher, std::function<void(bool)> done) = 0;
    /// Counts `e` on the calling shard.
    virtual void count(push_event e) = 0;
    /// True for topics of `state.topics` (telemetry that may be conflated for slow clients).
    [[nodiscard]] virtual bool is_state_topic(std::string_view topic) const = 0;
    /// Runs `done` on the calling shard once every shard has done what was queued on it
    /// before this call: a message routed before it is in the history's hands by then.
    virtual void after_all_shards(std::function<void()> done) = 0;
    /// The messages on `filters` received since `since_ms` (inclusive) that `may_read`
    /// allows, everything handed to the history so far included. Reads the disk: call it
    /// off the shards.
    [[nodiscard]] virtual replay history_since(const std::vector<std::string>& filters, std::int64_t since_ms,
                                               std::size_t max,
                                               const std::function<bool(std::string_view)>& may_read) const = 0;

protected:
    ~hub() = default;
};

}  // namespace vigil::router
