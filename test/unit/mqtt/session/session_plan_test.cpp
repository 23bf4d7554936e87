// Which session a CONNECT gets: takeover, continuation, discarding, and the refusals.
#include <vigil/mqtt/session/session_plan.hpp>

#include <vigil/mqtt/codec/errc.hpp>
#include <vigil/mqtt/session/ending.hpp>

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
using take = session_plan::take;

namespace {

existing_session held(bool persistent, bool online, const char* owner = "car7") {
    existing_session e;
    e.persistent = persistent;
    e.online = online;
    if (owner != nullptr) {
        e.owner = owner;
    }
    return e;
}

}  // namespace

TEST_CASE("session plan: a new client id gets a new session; a persistent one counts", "[session][takeover]") {
    const auto clean = plan_session("car7", true, "car7", std::nullopt);
    CHECK(clean.refusal.empty());
    CHECK(clean.session == take::new_clean);
    CHECK_FALSE(clean.counts_toward_identity);
    CHECK_FALSE(clean.close_old);
    const auto kept = plan_session("car7", false, "car7", std::nullopt);
    CHECK(kept.session == take::new_persistent);
    CHECK(kept.counts_toward_identity);
}

TEST_CASE("session plan: takeover publishes the old will unless a persistent session continues",
          "[session][takeover]") {
    // Both persistent: the session continues on the new connection, no will.
    auto p = plan_session("car7", false, "car7", held(true, true));
    CHECK(p.close_old == errc::session_continued);
    CHECK_FALSE(publishes_will(p.close_old));
    CHECK(p.session == take::resume);
    CHECK_FALSE(p.counts_toward_identity);  // already counted
    // The new one is clean: the old connection is taken over (will) and its session discarded.
    p = plan_session("car7", true, "car7", held(true, true));
    CHECK(p.close_old == errc::session_taken_over);
    CHECK(publishes_will(p.close_old));
    CHECK(p.discard_existing);
    CHECK(p.session == take::new_clean);
    // The old one was clean: taken over, and its session ends with its connection.
    p = plan_session("car7", false, "car7", held(false, true));
    CHECK(p.close_old == errc::session_taken_over);
    CHECK_FALSE(p.discard_existing);
    CHECK(p.session == take::new_persistent);
    CHECK(p.counts_toward_identity);
    p = plan_session("car7", true, "car7", held(false, true));
    CHECK(p.close_old == errc::session_taken_over);
    CHECK(p.session == take::new_clean);
}

TEST_CASE("session plan: an offline session resumes or is discarded; no connection is closed", "[session][takeover]") {
    auto p = plan_session("car7", false, "car7", held(true, false));
    CHECK_FALSE(p.close_old);
    CHECK(p.session == take::resume);
    p = plan_session("car7", true, "car7", held(true, false));
    CHECK_FALSE(p.close_old);
    CHECK(p.discard_existing);
    CHECK(p.session == take::new_clean);
    // Stored without an owner (before owners were recorded): bound now, so it counts.
    p = plan_session("car7", false, "car7", held(true, false, nullptr));
    CHECK(p.refusal.empty());
    CHECK(p.counts_toward_identity);
    CHECK(p.session == take::resume);
}

TEST_CASE("session plan: another identity's session or a dashboard's client id is refused, online or not",
          "[session][takeover]") {
    for (const bool online : {false, true}) {
        for (const bool clean : {false, true}) {
            INFO("online " << online << ", clean " << clean);
            auto p = plan_session("car7", clean, "intruder", held(true, online));
            CHECK(p.refusal == "client id 'car7' belongs to identity 'car7'");
            CHECK_FALSE(p.close_old);  // the owner stays connected
            CHECK_FALSE(p.discard_existing);
            p = plan_session("car7", clean, "", held(true, online));  // anonymous is an identity too
            CHECK_FALSE(p.refusal.empty());
        }
    }
    existing_session dash;
    dash.held_by_dashboard = true;
    const auto p = plan_session("ops", false, "ops", dash);
    CHECK(p.refusal == "client id 'ops' is in use by a WebSocket dashboard");
    CHECK_FALSE(p.close_old);
}
