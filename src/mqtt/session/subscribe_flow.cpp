// SUBSCRIBE / UNSUBSCRIBE of MQTT 3.1.1 §3.8-3.11.
#include <vigil/mqtt/session/session.hpp>

namespace vigil::mqtt {

void session::on_subscribe(const subscribe_packet& s, action_list& out) {
    suback_packet ack;
    ack.packet_id = s.packet_id;
    ack.return_codes.reserve(s.topics.size());
    std::vector<subscribe_grant> granted;
    granted.reserve(s.topics.size());
    for (const auto& t : s.topics) {
        const subscribe_grant g = auth_ != nullptr ? auth_->may_subscribe(t.filter) : subscribe_grant::full;
        granted.push_back(g);
        if (g == subscribe_grant::refused) {
            ++stats_.denied_subscriptions;
            ack.return_codes.push_back(suback_failure);  // [MQTT-3.9.3-2]
            continue;
        }
        // A repeated filter replaces the subscription [MQTT-3.8.4-3].
        subs_.insert_or_assign(std::string{t.filter}, t.q);
        out.push_back(add_subscription{std::string{t.filter}, t.q, g == subscribe_grant::checked});
        ack.return_codes.push_back(static_cast<std::uint8_t>(t.q));
    }
    out.push_back(send_packet{std::move(ack)});  // [MQTT-3.8.4-1]
    for (std::size_t i = 0; i < s.topics.size(); ++i) {
        if (granted[i] != subscribe_grant::refused) {
            out.push_back(deliver_retained{std::string{s.topics[i].filter}, s.topics[i].q,
                                           granted[i] == subscribe_grant::checked});  // [MQTT-3.3.1-6]
        }
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
