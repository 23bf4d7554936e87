// `[limits]`: every bound the broker enforces, with its range.
#include "context.hpp"

#include <charconv>

namespace vigil::config {

std::uint64_t context::size(const toml::node& n, std::string_view key, std::uint64_t lo, std::uint64_t hi) const {
    std::uint64_t bytes = 0;
    if (const auto* i = n.as_integer()) {
        if (i->get() < 0) {
            fail(n, fmt::format("'{}' must not be negative", key));
        }
        bytes = static_cast<std::uint64_t>(i->get());
    } else if (const auto* s = n.as_string()) {
        const std::string& text = s->get();
        std::uint64_t count = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
        const std::string_view unit{end, static_cast<std::size_t>(text.data() + text.size() - end)};
        const std::pair<std::string_view, unsigned> units[] = {
            {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
        const auto* u =
            std::find_if(std::begin(units), std::end(units), [unit](const auto& x) { return x.first == unit; });
        if (ec != std::errc{} || end == text.data() || u == std::end(units) || count > (hi >> u->second)) {
            fail(n,
                 fmt::format("'{}' must be a byte count such as 1048576, \"512MiB\" or \"2GiB\", at most {}", key, hi));
        }
        bytes = count << u->second;
    } else {
        fail(n, fmt::format("'{}' must be a byte count such as 1048576 or \"512MiB\"", key));
    }
    if (bytes < lo || bytes > hi) {
        fail(n, fmt::format("'{}' must be between {} and {} bytes, got {}", key, lo, hi, bytes));
    }
    return bytes;
}

void parse_limits(const context& cx, const toml::table& t, limits_settings& lim) {
    cx.only(t,
            {"max_inflight", "max_queued", "max_packet_size", "max_outbound_bytes", "connect_timeout", "packet_timeout",
             "max_connections", "max_connections_per_address", "max_publish_rate", "max_queued_bytes", "session_expiry",
             "max_subscriptions", "max_sessions_per_identity", "max_retained", "max_retained_bytes",
             "max_retained_per_identity", "max_retained_bytes_per_identity", "min_free_disk"},
            "limits.");
    if (const auto* v = t.get("session_expiry")) {
        if (const auto* str = v->as_string(); str != nullptr && str->get() == "never") {
            lim.session_expiry = std::chrono::milliseconds{0};
        } else {
            lim.session_expiry = cx.duration(*v, "limits.session_expiry (or \"never\")");
        }
    }
    constexpr std::int64_t big = 10'000'000;
    auto count = [&](const char* key, auto& field, std::int64_t lo, std::int64_t hi) {
        if (const auto* v = t.get(key)) {
            field = cx.integer<std::remove_reference_t<decltype(field)>>(*v, fmt::format("limits.{}", key), lo, hi);
        }
    };
    auto bytes = [&](const char* key, std::uint64_t& field, std::uint64_t lo, std::uint64_t hi) {
        if (const auto* v = t.get(key)) {
            field = cx.size(*v, fmt::format("limits.{}", key), lo, hi);
        }
    };
    auto duration = [&](const char* key, std::chrono::milliseconds& field) {
        if (const auto* v = t.get(key)) {
            field = cx.duration(*v, fmt::format("limits.{}", key));
        }
    };
    count("max_connections", lim.max_connections, 1, big);
    count("max_connections_per_address", lim.max_connections_per_address, 0, big);
    count("max_publish_rate", lim.max_publish_rate, 0, big);
    count("max_inflight", lim.max_inflight, 1, 65535);
    count("max_queued", lim.max_queued, 1, 100'000'000);
    count("max_packet_size", lim.max_packet_size, 64, 268'435'460);
    count("max_subscriptions", lim.max_subscriptions, 1, big);
    count("max_sessions_per_identity", lim.max_sessions_per_identity, 0, big);
    count("max_retained", lim.max_retained, 1, 1'000'000'000);
    count("max_retained_per_identity", lim.max_retained_per_identity, 1, 1'000'000'000);
    std::uint64_t queued_bytes = lim.max_queued_bytes;
    std::uint64_t outbound_bytes = lim.max_outbound_bytes;
    bytes("max_queued_bytes", queued_bytes, 1024, std::uint64_t{1} << 40);
    bytes("max_outbound_bytes", outbound_bytes, 4096, std::uint64_t{1} << 34);
    lim.max_queued_bytes = static_cast<std::size_t>(queued_bytes);
    lim.max_outbound_bytes = static_cast<std::size_t>(outbound_bytes);
    bytes("max_retained_bytes", lim.max_retained_bytes, 1024, std::uint64_t{1} << 44);
    bytes("max_retained_bytes_per_identity", lim.max_retained_bytes_per_identity, 1024, std::uint64_t{1} << 44);
    bytes("min_free_disk", lim.min_free_disk, 0, std::uint64_t{1} << 50);
    duration("connect_timeout", lim.connect_timeout);
    duration("packet_timeout", lim.packet_timeout);
}

}  // namespace vigil::config
