// SUBSCRIBE / UNSUBSCRIBE of MQTT 3.1.1 §3.8-3.11.
#include <vigil/mqtt/session/session.hpp>

namespace vigil::mqtt {

void session::on_subscribe(const subscribe_packet& s, action_list& out) {
    suback_packet ack;
    ack.packet_id = s.packet_id;
    ack.return_codes.reserve(s.topics.size());
    for (const auto& t : s.topics) {
        // A repeated filter replaces the subscription [MQTT-3.8.4-3].
        subs_.insert_or_assign(std::string{t.filter}, t.q);
        out.push_back(add_subscription{std::string{t.filter}, t.q});
        ack.return_codes.push_back(static_cast<std::uint8_t>(t.q));
    }
    out.push_back(send_packet{std::move(ack)});  // [MQTT-3.8.4-1]
    for (const auto& t : s.topics) {
        out.push_back(deliver_retained{std::string{t.filter}, t.q});  // [MQTT-3.3.1-6]
    }
}

void session::on_unsubscribe(const unsubscribe_packet& u, action_list& out) {
    for (const auto f : u.filters) {
        const auto it = subs_.find(f);
        if (it != subs_.end()) {
            subs_.erase(it);
            out.push_back(remove_subscription{std::string{f}});
        }
    }
    out.push_back(send_packet{unsuback_packet{u.packet_id}});  // [MQTT-3.10.4-4]
}

}  // namespace vigil::mqtt
