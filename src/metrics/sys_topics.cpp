// $SYS/broker/... with Mosquitto's names and payloads (plain numbers, loads with two decimals).

#include <vigil/metrics/sys_topics.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vigil::metrics {

void sys_topics::add_load(std::vector<std::pair<std::string, std::string>>& out, const std::string& name, load& l,
                          std::uint64_t total, double elapsed_seconds, bool first) {
    static constexpr std::array<double, 3> windows{60, 300, 900};
    static constexpr std::array<const char*, 3> labels{"1min", "5min", "15min"};
    if (!first && elapsed_seconds > 0) {
        // The rate of this interval, per minute, decayed into each average as Mosquitto does.
        const double per_minute = static_cast<double>(total - std::min(total, l.last)) * 60.0 / elapsed_seconds;
        for (std::size_t i = 0; i < windows.size(); ++i) {
            const double e = std::exp(-elapsed_seconds / windows[i]);
            l.average[i] = per_minute + e * (l.average[i] - per_minute);
        }
    }
    l.last = total;
    for (std::size_t i = 0; i < windows.size(); ++i) {
        out.emplace_back(fmt::format("$SYS/broker/load/{}/{}", name, labels[i]), fmt::format("{:.2f}", l.average[i]));
    }
}

std::vector<std::pair<std::string, std::string>> sys_topics::update(const mqtt::broker_stats& b, double uptime_seconds,
                                                                    double elapsed_seconds) {
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::int64_t connected = 0;
    for (std::size_t i = 0; i < b.by_transport.size(); ++i) {
        if (static_cast<mqtt::transport>(i) == mqtt::transport::probe) {
            continue;  // the users' traffic only
        }
        const auto& t = b.by_transport[i];
        for (std::size_t q = 0; q < t.messages_in.size(); ++q) {
            messages_in += t.messages_in[q];
            messages_out += t.messages_out[q];
        }
        bytes_in += t.bytes_in;
        bytes_out += t.bytes_out;
        connected += t.open;
    }
    max_connected_ = std::max(max_connected_, connected);
    const std::uint64_t dropped =
        b.dropped_qos0_backpressure + b.dropped_queue_full + b.denied_publishes + b.denied_deliveries;
    const auto& s = b.sessions;
    const std::int64_t stored = s.queued + s.inflight;
    std::vector<std::pair<std::string, std::string>> out{
        {"$SYS/broker/version", "vigil " + version_},
        {"$SYS/broker/uptime", fmt::format("{} seconds", static_cast<std::uint64_t>(uptime_seconds))},
        {"$SYS/broker/clients/connected", fmt::format("{}", connected)},
        {"$SYS/broker/clients/maximum", fmt::format("{}", max_connected_)},
        {"$SYS/broker/clients/disconnected", fmt::format("{}", s.persistent_offline)},
        {"$SYS/broker/clients/total", fmt::format("{}", connected + s.persistent_offline)},
        {"$SYS/broker/subscriptions/count", fmt::format("{}", s.subscriptions)},
        {"$SYS/broker/store/messages/count", fmt::format("{}", stored)},
        {"$SYS/broker/messages/stored", fmt::format("{}", stored)},
        {"$SYS/broker/messages/received", fmt::format("{}", messages_in)},
        {"$SYS/broker/messages/sent", fmt::format("{}", messages_out)},
        {"$SYS/broker/publish/messages/received", fmt::format("{}", messages_in)},
        {"$SYS/broker/publish/messages/sent", fmt::format("{}", messages_out)},
        {"$SYS/broker/publish/messages/dropped", fmt::format("{}", dropped)},
        {"$SYS/broker/bytes/received", fmt::format("{}", bytes_in)},
        {"$SYS/broker/bytes/sent", fmt::format("{}", bytes_out)},
        {"$SYS/broker/retained messages/count", fmt::format("{}", b.retained)},
    };
    const bool first = !started_;
    started_ = true;
    add_load(out, "messages/received", received_, messages_in, elapsed_seconds, first);
    add_load(out, "messages/sent", sent_, messages_out, elapsed_seconds, first);
    add_load(out, "bytes/received", bytes_received_, bytes_in, elapsed_seconds, first);
    add_load(out, "bytes/sent", bytes_sent_, bytes_out, elapsed_seconds, first);
    add_load(out, "connections", connections_, b.connections_accepted, elapsed_seconds, first);
    add_load(out, "publish/dropped", dropped_, dropped, elapsed_seconds, first);
    return out;
}

}  // namespace vigil::metrics
