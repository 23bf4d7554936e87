#include <vigil/mqtt/session/session.hpp>

#include <vigil/mqtt/session/ending.hpp>

#include "support/bytes.hpp"

#include <catch2/catch.hpp>

using namespace vigil::mqtt;
using vigil::message;
using vigil::qos;
using vigil::test::as_span;

namespace {

session make_session(std::uint16_t inflight = 2, std::size_t queued = 3) {
    return session{"c1", true, session_limits{inflight, queued}};
}

template <class T>
std::vector<T> all_of(const action_list& acts) {
    std::vector<T> out;
    for (const auto& a : acts) {
        if (const auto* v = std::get_if<T>(&a)) {
            out.push_back(*v);
        }
    }
    return out;
}

vigil::message_ref msg(const char* topic, qos q = qos::at_least_once) {
    return message::make(topic, as_span("x"), q, false);
}

}  // namespace

TEST_CASE("session: CONNECT checks", "[session][connect]") {
    connect_packet c;
    CHECK_FALSE(check_connect(c));
    c.protocol_level = 3;
    CHECK(check_connect(c) == errc::unacceptable_protocol_version);
    c.protocol_level = 4;
    c.protocol_name = "MQIsdp";
    CHECK(check_connect(c) == errc::unacceptable_protocol_version);  // 3.1's name, 3.1.1's level
    c.protocol_level = 3;  // MQTT 3.1: accepted, with a client id of 1 to 23 characters
    CHECK(check_connect(c) == errc::identifier_rejected);
    c.client_id = "abcdefghijklmnopqrstuvw";
    CHECK_FALSE(check_connect(c));
    CHECK(is_mqtt31(c));
    c.client_id =
        "\xC3\xA9"
        "bcdefghijklmnopqrstuvw";  // 23 characters, 24 bytes
    CHECK_FALSE(check_connect(c));
    c.client_id = "abcdefghijklmnopqrstuvwx";
    CHECK(check_connect(c) == errc::identifier_rejected);
    c.client_id = {};
    c.protocol_name = "MQTT";
    c.protocol_level = 4;
    c.clean_session = false;
    CHECK(check_connect(c) == errc::identifier_rejected);  // [MQTT-3.1.3-8]
    c.client_id = "dev-1";
    CHECK_FALSE(check_connect(c));
}

TEST_CASE("session: inbound QoS 0/1/2", "[session][publish]") {
    auto s = make_session();
    action_list acts;
    s.attach(acts);
    acts.clear();
    s.on_packet(publish_packet{"a", as_span("p"), qos::at_most_once, false, false, 0}, acts);
    REQUIRE(all_of<route_publish>(acts).size() == 1);
    CHECK(all_of<send_packet>(acts).empty());

    acts.clear();
    s.on_packet(publish_packet{"a", as_span("p"), qos::at_least_once, false, false, 5}, acts);
    CHECK(all_of<route_publish>(acts).size() == 1);
    REQUIRE(all_of<send_packet>(acts).size() == 1);
    CHECK(std::get<puback_packet>(all_of<send_packet>(acts)[0].p).packet_id == 5);

    // QoS 2: routed once even when the PUBLISH is repeated before PUBREL.
    acts.clear();
    s.on_packet(publish_packet{"a", as_span("p"), qos::exactly_once, false, false, 9}, acts);
    s.on_packet(publish_packet{"a", as_span("p"), qos::exactly_once, false, true, 9}, acts);
    CHECK(all_of<route_publish>(acts).size() == 1);
    CHECK(all_of<send_packet>(acts).size() == 2);  // PUBREC twice
    acts.clear();
    s.on_packet(pubrel_packet{9}, acts);
    CHECK(std::get<pubcomp_packet>(all_of<send_packet>(acts).at(0).p).packet_id == 9);
    // After release the id is free again: a new PUBLISH with id 9 is a new message.
    acts.clear();
    s.on_packet(publish_packet{"a", as_span("p"), qos::exactly_once, false, false, 9}, acts);
    CHECK(all_of<route_publish>(acts).size() == 1);
}

TEST_CASE("session: outbound QoS 1 window, queue and PUBACK", "[session][publish]") {
    auto s = make_session(2, 3);
    action_list acts;
    s.attach(acts);
    for (int i = 0; i < 4; ++i) {
        s.deliver(msg("t"), qos::at_least_once, false, acts);
    }
    auto sent = all_of<send_publish>(acts);
    REQUIRE(sent.size() == 2);  // the window
    CHECK(s.inflight_count() == 2);
    CHECK(s.queued_count() == 2);
    CHECK(sent[0].packet_id != sent[1].packet_id);
    acts.clear();
    s.on_packet(puback_packet{sent[0].packet_id}, acts);
    CHECK(all_of<send_publish>(acts).size() == 1);  // one from the queue
    CHECK(s.queued_count() == 1);
    // An unknown PUBACK is ignored.
    acts.clear();
    s.on_packet(puback_packet{999}, acts);
    CHECK(acts.empty());
}

TEST_CASE("session: outbound QoS 2 flow PUBLISH, PUBREC, PUBREL, PUBCOMP", "[session][publish]") {
    auto s = make_session();
    action_list acts;
    s.attach(acts);
    s.deliver(msg("t", qos::exactly_once), qos::exactly_once, false, acts);
    const auto id = all_of<send_publish>(acts).at(0).packet_id;
    acts.clear();
    s.on_packet(pubrec_packet{id}, acts);
    CHECK(std::get<pubrel_packet>(all_of<send_packet>(acts).at(0).p).packet_id == id);
    CHECK(s.inflight_count() == 1);
    acts.clear();
    s.on_packet(pubcomp_packet{id}, acts);
    CHECK(s.inflight_count() == 0);
}

TEST_CASE("session: acknowledgements of the wrong kind close; an unsolicited PUBREC gets PUBREL",
          "[session][publish]") {
    auto closes = [](action_list& acts) {
        const auto c = all_of<close_connection>(acts);
        return c.size() == 1 && c[0].reason == errc::protocol_violation && publishes_will(c[0].reason);
    };
    auto s = make_session(4, 4);
    action_list acts;
    s.attach(acts);
    s.deliver(msg("t"), qos::at_least_once, false, acts);
    s.deliver(msg("t", qos::exactly_once), qos::exactly_once, false, acts);
    const auto sent = all_of<send_publish>(acts);
    REQUIRE(sent.size() == 2);
    const std::uint16_t q1 = sent[0].packet_id;
    const std::uint16_t q2 = sent[1].packet_id;
    const packet wrong[] = {pubrec_packet{q1}, pubcomp_packet{q1}, puback_packet{q2}, pubcomp_packet{q2}};
    for (const auto& p : wrong) {  // QoS 1 answered as QoS 2, QoS 2 as QoS 1, PUBCOMP before PUBREC
        acts.clear();
        s.on_packet(p, acts);
        CHECK(closes(acts));
        CHECK(s.inflight_count() == 2);  // nothing was released by it
    }
    // Nothing in flight under that id: a PUBREC is answered with PUBREL, the rest ignored.
    acts.clear();
    s.on_packet(pubrec_packet{999}, acts);
    REQUIRE(all_of<send_packet>(acts).size() == 1);
    CHECK(std::get<pubrel_packet>(all_of<send_packet>(acts)[0].p).packet_id == 999);
    CHECK(all_of<close_connection>(acts).empty());
    acts.clear();
    s.on_packet(pubcomp_packet{999}, acts);
    s.on_packet(puback_packet{999}, acts);
    CHECK(acts.empty());
    // The right answers still work, and a repeated PUBREC is answered again.
    acts.clear();
    s.on_packet(puback_packet{q1}, acts);
    s.on_packet(pubrec_packet{q2}, acts);
    s.on_packet(pubrec_packet{q2}, acts);
    CHECK(all_of<send_packet>(acts).size() == 2);
    s.on_packet(pubcomp_packet{q2}, acts);
    CHECK(s.inflight_count() == 0);
    CHECK(all_of<close_connection>(acts).empty());
}

TEST_CASE("session: reattach resends in-flight with DUP, then PUBREL, then the queue", "[session][MQTT-4.4.0-1]") {
    session s{"c1", true, session_limits{2, 10}};
    action_list acts;
    s.attach(acts);
    s.deliver(msg("t", qos::exactly_once), qos::exactly_once, false, acts);
    s.deliver(msg("t"), qos::at_least_once, false, acts);
    const auto sent = all_of<send_publish>(acts);
    REQUIRE(sent.size() == 2);
    acts.clear();
    s.on_packet(pubrec_packet{sent[0].packet_id}, acts);
    s.detach();
    // While offline: QoS 1 queues, QoS 0 is dropped and counted.
    acts.clear();
    s.deliver(msg("t"), qos::at_least_once, false, acts);
    s.deliver(msg("t", qos::at_most_once), qos::at_most_once, false, acts);
    CHECK(all_of<send_publish>(acts).empty());
    CHECK(all_of<store_message>(acts).size() == 1);  // the queued QoS 1 goes to the store
    CHECK(s.queued_count() == 1);
    CHECK(s.stats().dropped_qos0_offline == 1);

    acts.clear();
    s.attach(acts);
    CHECK(all_of<store_message>(acts).empty());  // nothing changed state
    REQUIRE(acts.size() == 2);
    CHECK(std::get<pubrel_packet>(std::get<send_packet>(acts[0]).p).packet_id == sent[0].packet_id);
    const auto& again = std::get<send_publish>(acts[1]);
    CHECK(again.packet_id == sent[1].packet_id);
    CHECK(again.dup);
    CHECK(s.queued_count() == 1);  // window full (2 in flight)
}

TEST_CASE("session: a full queue drops offline and disconnects a slow online client", "[session]") {
    auto s = make_session(1, 2);
    action_list acts;
    for (int i = 0; i < 3; ++i) {
        s.deliver(msg("t"), qos::at_least_once, false, acts);
    }
    CHECK(s.queued_count() == 2);
    CHECK(s.stats().dropped_queue_full == 1);
    s.attach(acts);
    acts.clear();
    s.deliver(msg("t"), qos::at_least_once, false, acts);  // queued behind the window
    CHECK(all_of<close_connection>(acts).empty());
    s.deliver(msg("t"), qos::at_least_once, false, acts);  // over max_queued
    REQUIRE(all_of<close_connection>(acts).size() == 1);
    CHECK(all_of<close_connection>(acts)[0].reason == errc::queue_overflow);
}

TEST_CASE("session: SUBSCRIBE answers SUBACK then asks for retained", "[session][subscribe]") {
    auto s = make_session();
    action_list acts;
    s.attach(acts);
    subscribe_packet sub{7, {{"a/#", qos::at_least_once}, {"b", qos::exactly_once}}};
    s.on_packet(sub, acts);
    REQUIRE(acts.size() == 5);
    CHECK(std::get<add_subscription>(acts[0]).filter == "a/#");
    CHECK(std::get<add_subscription>(acts[1]).q == qos::exactly_once);
    const auto& ack = std::get<suback_packet>(std::get<send_packet>(acts[2]).p);
    CHECK(ack.packet_id == 7);
    CHECK(ack.return_codes == std::vector<std::uint8_t>{1, 2});
    CHECK(std::get<deliver_retained>(acts[3]).filter == "a/#");
    CHECK(s.subscriptions().size() == 2);

    acts.clear();
    s.on_packet(unsubscribe_packet{8, {"a/#", "never"}}, acts);
    REQUIRE(acts.size() == 2);
    CHECK(std::get<remove_subscription>(acts[0]).filter == "a/#");
    CHECK(std::get<unsuback_packet>(std::get<send_packet>(acts[1]).p).packet_id == 8);
    CHECK(s.subscriptions().size() == 1);
}

TEST_CASE("session: DISCONNECT suppresses the will; a second CONNECT is a violation", "[session][MQTT-3.1.0-2]") {
    auto s = make_session();
    action_list acts;
    s.attach(acts);
    s.on_packet(disconnect_packet{}, acts);
    REQUIRE(all_of<close_connection>(acts).size() == 1);
    CHECK_FALSE(publishes_will(all_of<close_connection>(acts)[0].reason));
    acts.clear();
    s.on_packet(connect_packet{}, acts);
    REQUIRE(all_of<close_connection>(acts).size() == 1);
    CHECK(all_of<close_connection>(acts)[0].reason == errc::protocol_violation);
    CHECK(publishes_will(all_of<close_connection>(acts)[0].reason));
    acts.clear();
    s.on_packet(suback_packet{1, {0}}, acts);
    CHECK(all_of<close_connection>(acts).size() == 1);
    acts.clear();
    s.on_packet(pingreq_packet{}, acts);
    CHECK(std::holds_alternative<pingresp_packet>(std::get<send_packet>(acts.at(0)).p));
}

TEST_CASE("session: the queue is bounded in bytes too", "[session]") {
    session s{"c1", true, session_limits{1, 100, 10}};
    action_list acts;
    const std::string four(4, 'x');
    for (int i = 0; i < 4; ++i) {
        s.deliver(message::make("t", as_span(four), qos::at_least_once, false), qos::at_least_once, false, acts);
    }
    CHECK(s.queued_count() == 2);  // 8 bytes queued; a third 4-byte payload would pass 10
    CHECK(s.stats().dropped_queue_full == 2);
    s.attach(acts);  // one goes in flight, freeing its bytes
    s.deliver(message::make("t", as_span(four), qos::at_least_once, false), qos::at_least_once, false, acts);
    CHECK(s.queued_count() == 2);
}

TEST_CASE("session: a persistent session reports every durable change", "[session][store]") {
    auto s = make_session(1, 5);  // window of one
    action_list acts;
    s.attach(acts);
    acts.clear();
    s.deliver(msg("a"), qos::at_least_once, false, acts);  // sent at once
    auto stored = all_of<store_message>(acts);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].packet_id != 0);
    const auto first_seq = stored[0].seq;
    const auto first_pid = stored[0].packet_id;

    acts.clear();
    s.deliver(msg("b"), qos::exactly_once, false, acts);  // queued behind the window
    stored = all_of<store_message>(acts);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].packet_id == 0);
    CHECK(stored[0].seq > first_seq);
    const auto second_seq = stored[0].seq;

    acts.clear();
    s.on_packet(puback_packet{first_pid}, acts);  // frees the window: b goes out
    REQUIRE(all_of<erase_message>(acts).size() == 1);
    CHECK(all_of<erase_message>(acts)[0].seq == first_seq);
    stored = all_of<store_message>(acts);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].seq == second_seq);
    REQUIRE(stored[0].packet_id != 0);
    const auto b_pid = stored[0].packet_id;

    acts.clear();
    s.on_packet(pubrec_packet{b_pid}, acts);
    stored = all_of<store_message>(acts);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].released);
    CHECK_FALSE(stored[0].msg);

    acts.clear();
    s.on_packet(pubcomp_packet{b_pid}, acts);
    REQUIRE(all_of<erase_message>(acts).size() == 1);
    CHECK(all_of<erase_message>(acts)[0].seq == second_seq);

    acts.clear();
    s.on_packet(publish_packet{"in", as_span("p"), qos::exactly_once, false, false, 9}, acts);
    REQUIRE(all_of<store_inbound>(acts).size() == 1);
    CHECK(all_of<store_inbound>(acts)[0].present);
    acts.clear();
    s.on_packet(publish_packet{"in", as_span("p"), qos::exactly_once, true, false, 9}, acts);  // DUP
    CHECK(all_of<store_inbound>(acts).empty());
    CHECK(all_of<route_publish>(acts).empty());
    acts.clear();
    s.on_packet(pubrel_packet{9}, acts);
    REQUIRE(all_of<store_inbound>(acts).size() == 1);
    CHECK_FALSE(all_of<store_inbound>(acts)[0].present);
}

TEST_CASE("session: a clean session reports nothing to store", "[session][store]") {
    session s{"c", false, session_limits{1, 5}};
    action_list acts;
    s.attach(acts);
    s.deliver(msg("a"), qos::at_least_once, false, acts);
    s.deliver(msg("b"), qos::at_least_once, false, acts);
    s.on_packet(publish_packet{"in", as_span("p"), qos::exactly_once, false, false, 9}, acts);
    CHECK(all_of<store_message>(acts).empty());
    CHECK(all_of<store_inbound>(acts).empty());
}

TEST_CASE("session: restored state is redelivered with DUP, then the queue", "[session][store]") {
    auto s = make_session(4, 10);
    std::vector<restored_message> msgs;
    msgs.push_back({3, msg("inflight"), qos::at_least_once, false, 17, false});
    msgs.push_back({4, nullptr, qos::exactly_once, false, 18, true});
    msgs.push_back({7, msg("queued"), qos::at_least_once, true, 0, false});
    s.restore(std::move(msgs), {5}, {{"devices/#", qos::exactly_once}});
    CHECK(s.subscriptions().at("devices/#") == qos::exactly_once);
    CHECK(s.inflight_count() == 2);
    CHECK(s.queued_count() == 1);

    action_list acts;
    s.attach(acts);
    const auto pubs = all_of<send_publish>(acts);
    REQUIRE(pubs.size() == 2);
    CHECK(pubs[0].dup);
    CHECK(pubs[0].packet_id == 17);
    CHECK(pubs[1].msg->topic() == "queued");
    CHECK_FALSE(pubs[1].dup);
    CHECK(pubs[1].retain);
    const auto ctl = all_of<send_packet>(acts);
    REQUIRE(ctl.size() == 1);
    CHECK(std::get<pubrel_packet>(ctl[0].p).packet_id == 18);
    // The queued message now in flight keeps its sequence number; new ones come after.
    const auto stored = all_of<store_message>(acts);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].seq == 7);
    acts.clear();
    s.deliver(msg("new"), qos::at_least_once, false, acts);
    REQUIRE(all_of<store_message>(acts).size() == 1);
    CHECK(all_of<store_message>(acts)[0].seq == 8);

    // The restored QoS 2 packet id is still held: a duplicate is not routed again.
    acts.clear();
    s.on_packet(publish_packet{"in", as_span("p"), qos::exactly_once, true, false, 5}, acts);
    CHECK(all_of<route_publish>(acts).empty());
}

namespace {
/// A walk over `sessions`, to compare with the totals they keep themselves.
session_totals walked(std::initializer_list<const session*> sessions) {
    session_totals t;
    for (const auto* s : sessions) {
        t.persistent_online += s->persistent() && s->attached() ? 1 : 0;
        t.persistent_offline += s->persistent() && !s->attached() ? 1 : 0;
        t.subscriptions += static_cast<std::int64_t>(s->subscriptions().size());
        t.queued += static_cast<std::int64_t>(s->queued_count());
        t.queued_bytes += static_cast<std::int64_t>(s->queued_bytes());
        t.inflight += static_cast<std::int64_t>(s->inflight_count());
    }
    return t;
}

bool same(const session_totals& a, const session_totals& b) {
    return a.persistent_online == b.persistent_online && a.persistent_offline == b.persistent_offline &&
           a.subscriptions == b.subscriptions && a.queued == b.queued && a.queued_bytes == b.queued_bytes &&
           a.inflight == b.inflight;
}
}  // namespace

TEST_CASE("session: the totals follow every change, a move and the end of a session", "[session][totals]") {
    session_totals totals;
    auto a = std::make_unique<session>("a", true, session_limits{2, 10});
    session b{"b", false, session_limits{2, 10}};
    a->count_in(&totals);
    b.count_in(&totals);
    CHECK(totals.persistent_offline == 1);
    action_list acts;
    a->attach(acts);
    b.attach(acts);
    a->on_packet(subscribe_packet{1, {{"x/#", qos::exactly_once}, {"y", qos::at_least_once}}}, acts);
    b.on_packet(subscribe_packet{1, {{"x/#", qos::at_least_once}}}, acts);
    CHECK(same(totals, walked({a.get(), &b})));
    CHECK(totals.persistent_online == 1);
    CHECK(totals.subscriptions == 3);

    // Two in flight, three queued behind the window of 2; offline, more queue.
    for (int i = 0; i < 5; ++i) {
        a->deliver(msg("x/1"), qos::at_least_once, false, acts);
    }
    CHECK(totals.inflight == 2);
    CHECK(totals.queued == 3);
    CHECK(totals.queued_bytes == 3);
    a->detach();
    a->deliver(msg("x/2"), qos::exactly_once, false, acts);
    CHECK(same(totals, walked({a.get(), &b})));
    CHECK(totals.persistent_offline == 1);
    CHECK(totals.queued == 4);

    // Back: acknowledgements move the queue into the window until it is empty.
    acts.clear();
    a->attach(acts);
    for (int round = 0; round < 10 && totals.inflight > 0; ++round) {
        const auto sent = all_of<send_publish>(acts);
        acts.clear();
        for (const auto& p : sent) {
            if (p.q == qos::at_least_once) {
                a->on_packet(puback_packet{p.packet_id}, acts);
            } else {
                a->on_packet(pubrec_packet{p.packet_id}, acts);
                a->on_packet(pubcomp_packet{p.packet_id}, acts);
            }
        }
        CHECK(same(totals, walked({a.get(), &b})));
    }
    CHECK(totals.inflight == 0);
    CHECK(totals.queued == 0);
    CHECK(totals.queued_bytes == 0);

    // Dropping what may no longer be read, a move, and the end of each session.
    a->detach();
    a->deliver(msg("y"), qos::at_least_once, false, acts);
    CHECK(a->drop_unless([](const message&) { return false; }, acts) == 1);
    CHECK(totals.queued == 0);
    session moved{std::move(b)};
    CHECK(same(totals, walked({a.get(), &moved})));
    a.reset();
    CHECK(totals.persistent_offline == 0);
    CHECK(totals.subscriptions == 1);
}
