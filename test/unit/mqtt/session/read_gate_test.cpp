// When a connection stops reading, and when it reads again.
#include <vigil/mqtt/session/read_gate.hpp>

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
using namespace std::chrono_literals;
using verdict = read_gate::verdict;

namespace {

constexpr std::size_t max_out = 1000;
constexpr std::size_t store_ok = 0;
constexpr std::size_t store_behind = read_gate::max_store_backlog + 1;

}  // namespace

TEST_CASE("read gate: a peer that does not read is not read from until half has gone out", "[session][pause]") {
    read_gate g{max_out};
    CHECK(g.before_read(max_out, 0, store_ok) == verdict::read);  // at the bound: still reads
    CHECK(g.before_read(max_out + 1, 0, store_ok) == verdict::slow_reader);
    CHECK_FALSE(g.output_drained(max_out / 2 + 1));
    CHECK(g.output_drained(max_out / 2));
    CHECK_FALSE(g.output_drained(0));  // resumed once
    CHECK(g.before_read(max_out / 2, 0, store_ok) == verdict::read);
}

TEST_CASE("read gate: acknowledgements waiting for the store pause reading until half went out", "[session][pause]") {
    read_gate g{max_out};
    CHECK(g.before_read(0, read_gate::max_waiting_acks - 1, store_ok) == verdict::read);
    CHECK(g.before_read(0, read_gate::max_waiting_acks, store_ok) == verdict::acks);
    CHECK_FALSE(g.acks_released(read_gate::max_waiting_acks / 2 + 1));
    CHECK(g.acks_released(read_gate::max_waiting_acks / 2));
    CHECK_FALSE(g.acks_released(0));
    CHECK_FALSE(g.output_drained(0));  // the other pause was never taken
}

TEST_CASE("read gate: a store behind pauses publishers only, and looks again each time", "[session][pause]") {
    read_gate g{max_out};
    CHECK(g.before_read(0, 0, store_behind) == verdict::read);  // a subscriber: read on
    CHECK_FALSE(g.published(0s));
    CHECK(g.before_read(0, 0, store_behind) == verdict::store_behind);
    CHECK(g.before_read(0, 0, store_behind) == verdict::read);  // nothing published since: read
    CHECK_FALSE(g.published(0s));
    CHECK(g.before_read(0, 0, store_ok) == verdict::read);  // caught up
}

TEST_CASE("read gate: over the publish rate, processing stops and reading waits for a token", "[session][pause]") {
    read_gate g{max_out};
    CHECK_FALSE(g.published(0s));
    CHECK(g.published(250ms));
    CHECK(g.before_read(0, 0, store_ok) == verdict::publish_rate);
    CHECK(g.take_throttle_wait() == 250ms);
    CHECK(g.before_read(0, 0, store_ok) == verdict::read);  // waited: read again
}

TEST_CASE("read gate: the slow reader is looked at first, then acks, the store, the rate", "[session][pause]") {
    read_gate g{max_out};
    CHECK(g.published(1s));
    CHECK(g.before_read(max_out + 1, read_gate::max_waiting_acks, store_behind) == verdict::slow_reader);
    CHECK(g.before_read(0, read_gate::max_waiting_acks, store_behind) == verdict::acks);
    CHECK(g.before_read(0, 0, store_behind) == verdict::store_behind);  // the PUBLISH is still counted
    CHECK(g.before_read(0, 0, store_behind) == verdict::publish_rate);
}
