// The connection's deadlines with a fake clock: connect, keep-alive at 1.5x, unfinished packets.
#include <vigil/mqtt/session/deadlines.hpp>

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
using namespace std::chrono_literals;
using expiry = deadlines::expiry;

namespace {

const deadlines::time_point t0{std::chrono::hours{1000}};  // any steady time

deadlines make() { return deadlines{10s, 30s, t0}; }

}  // namespace

TEST_CASE("deadlines: a connection without an accepted CONNECT closes at connect_timeout", "[session][deadlines]") {
    auto d = make();
    CHECK(d.next() == t0 + 10s);
    CHECK(d.due(t0 + 10s - 1ms) == expiry::none);
    d.received(t0 + 9s);  // bytes (a CONNECT in pieces, or garbage) do not move it
    CHECK(d.next() == t0 + 10s);
    CHECK(d.due(t0 + 10s) == expiry::connect);
    CHECK(d.due(t0 + 1h) == expiry::connect);
}

TEST_CASE("deadlines: keep-alive expires at 1.5 times the interval after the last bytes", "[session][deadlines]") {
    auto d = make();
    d.received(t0 + 1s);  // the CONNECT
    d.accepted(60s);
    CHECK(d.due(t0 + 20s) == expiry::none);  // the connect deadline is gone
    CHECK(d.next() == t0 + 1s + 90s);
    CHECK(d.due(t0 + 1s + 90s - 1ms) == expiry::none);
    CHECK(d.due(t0 + 1s + 90s) == expiry::keep_alive);
    d.received(t0 + 50s);  // a PINGREQ
    CHECK(d.next() == t0 + 50s + 90s);
    CHECK(d.due(t0 + 1s + 90s) == expiry::none);
    CHECK(d.due(t0 + 140s) == expiry::keep_alive);

    SECTION("an odd interval: 1.5 s of 1 s, to the millisecond") {
        auto e = make();
        e.received(t0);
        e.accepted(1s);
        CHECK(e.due(t0 + 1499ms) == expiry::none);
        CHECK(e.due(t0 + 1500ms) == expiry::keep_alive);
    }
}

TEST_CASE("deadlines: keep-alive 0 means none; only an unfinished packet can expire", "[session][deadlines]") {
    auto d = make();
    d.received(t0);
    d.accepted(0s);
    CHECK_FALSE(d.next().has_value());
    CHECK(d.due(t0 + 24h) == expiry::none);
    CHECK(d.packet_begun(t0 + 5s) == t0 + 35s);
    CHECK(d.next() == t0 + 35s);
    CHECK(d.due(t0 + 35s) == expiry::unfinished_packet);
    d.packet_finished();
    CHECK_FALSE(d.next().has_value());
    CHECK(d.due(t0 + 24h) == expiry::none);
}

TEST_CASE("deadlines: a packet begun keeps its first time, and trickling bytes do not save it",
          "[session][deadlines]") {
    auto d = make();
    d.received(t0);
    d.accepted(60s);
    CHECK(d.packet_begun(t0 + 10s) == t0 + 40s);
    for (auto t = t0 + 11s; t < t0 + 40s; t += 1s) {
        d.received(t);  // one byte a second: keep-alive is happy
        CHECK(d.packet_begun(t) == t0 + 40s);
    }
    CHECK(d.next() == t0 + 40s);                           // before the keep-alive (t0 + 39 s + 90 s)
    CHECK(d.due(t0 + 40s) == expiry::unfinished_packet);   // closes the slow loris
    CHECK(d.due(t0 + 200s) == expiry::unfinished_packet);  // packet first when both have expired
    d.packet_finished();
    CHECK(d.next() == t0 + 39s + 90s);
    CHECK(d.due(t0 + 200s) == expiry::keep_alive);
}

TEST_CASE("deadlines: the earliest of keep-alive and packet is when to look next", "[session][deadlines]") {
    auto d = deadlines{10s, 30s, t0};
    d.received(t0);
    d.accepted(10s);  // 15 s
    CHECK(d.packet_begun(t0 + 1s) == t0 + 31s);
    CHECK(d.next() == t0 + 15s);
    CHECK(d.due(t0 + 15s) == expiry::keep_alive);
}
