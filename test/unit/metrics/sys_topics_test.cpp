#include <vigil/metrics/sys_topics.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace vigil;

namespace {
std::map<std::string, std::string> as_map(const std::vector<std::pair<std::string, std::string>>& v) {
    return {v.begin(), v.end()};
}
}  // namespace

TEST_CASE("$SYS: Mosquitto's topics from the counters", "[metrics]") {
    metrics::sys_topics sys{"1.2.3"};
    mqtt::broker_stats b;
    b.by_transport[0].open = 3;
    b.by_transport[2].open = 1;
    b.by_transport[0].messages_in = {10, 5, 1};
    b.by_transport[1].messages_out = {7, 0, 0};
    b.by_transport[0].bytes_in = 1000;
    b.by_transport[3].open = 1;  // the probe: not a user
    b.by_transport[3].messages_in = {0, 9, 0};
    b.retained = 4;
    b.dropped_qos0_backpressure = 2;
    b.sessions.persistent_offline = 6;
    b.sessions.subscriptions = 11;
    b.sessions.queued = 8;
    b.sessions.inflight = 2;
    const auto t = as_map(sys.update(b, 42.9, 0));
    CHECK(t.at("$SYS/broker/version") == "vigil 1.2.3");
    CHECK(t.at("$SYS/broker/uptime") == "42 seconds");
    CHECK(t.at("$SYS/broker/clients/connected") == "4");
    CHECK(t.at("$SYS/broker/clients/disconnected") == "6");
    CHECK(t.at("$SYS/broker/clients/total") == "10");
    CHECK(t.at("$SYS/broker/subscriptions/count") == "11");
    CHECK(t.at("$SYS/broker/store/messages/count") == "10");
    CHECK(t.at("$SYS/broker/messages/stored") == "10");
    CHECK(t.at("$SYS/broker/messages/received") == "16");
    CHECK(t.at("$SYS/broker/messages/sent") == "7");
    CHECK(t.at("$SYS/broker/bytes/received") == "1000");
    CHECK(t.at("$SYS/broker/retained messages/count") == "4");
    CHECK(t.at("$SYS/broker/publish/messages/dropped") == "2");
    CHECK(t.at("$SYS/broker/load/messages/received/1min") == "0.00");  // the first call starts the averages
}

TEST_CASE("$SYS: load averages decay towards the per-minute rate like Mosquitto's", "[metrics]") {
    metrics::sys_topics sys{"x"};
    mqtt::broker_stats b;
    (void)sys.update(b, 0, 0);
    // 60 messages in 60 s: 60 per minute. After one minute the 1-minute average is at
    // 60 * (1 - e^-1), the 5- and 15-minute ones lower.
    b.by_transport[0].messages_in[0] = 60;
    auto t = as_map(sys.update(b, 60, 60));
    CHECK(t.at("$SYS/broker/load/messages/received/1min") == "37.93");
    CHECK(t.at("$SYS/broker/load/messages/received/5min") == "10.88");
    CHECK(t.at("$SYS/broker/load/messages/received/15min") == "3.87");
    // No traffic for a minute: the 1-minute average falls by e^-1.
    t = as_map(sys.update(b, 120, 60));
    CHECK(t.at("$SYS/broker/load/messages/received/1min") == "13.95");
    // The peak of connected clients stays.
    b.by_transport[0].open = 9;
    (void)sys.update(b, 130, 10);
    b.by_transport[0].open = 2;
    CHECK(as_map(sys.update(b, 140, 10)).at("$SYS/broker/clients/maximum") == "9");
}
