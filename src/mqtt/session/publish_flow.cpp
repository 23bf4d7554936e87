// QoS 0/1/2 flows of MQTT 3.1.1 §4.3, both directions.
#include <vigil/mqtt/session/session.hpp>

#include <algorithm>

namespace vigil::mqtt {

void session::on_publish(const publish_packet& p, action_list& out) {
    if (auth_ != nullptr && !auth_->may_publish(p.topic)) {
        // Denied: dropped and counted; QoS 1/2 is still acknowledged, as MQTT 3.1.1 brokers
        // do, so a misconfigured device does not retry forever.
        ++stats_.denied_publishes;
        if (p.q == qos::at_least_once) {
            out.push_back(send_packet{puback_packet{p.packet_id}});
        } else if (p.q == qos::exactly_once) {
            bool first = false;
            receive_inbound(p.packet_id, first, out);
            out.push_back(send_packet{pubrec_packet{p.packet_id}});
        }
        return;
    }
    switch (p.q) {
        case qos::at_most_once:
            out.push_back(route_publish{message::make(p.topic, p.payload, p.q, p.retain)});
            return;
        case qos::at_least_once:
            out.push_back(route_publish{message::make(p.topic, p.payload, p.q, p.retain)});
            out.push_back(send_packet{puback_packet{p.packet_id}});  // [MQTT-4.3.2-2]
            return;
        case qos::exactly_once:
            // Method A of §4.3.3: route on first receipt, never again until PUBREL
            // releases the packet id [MQTT-4.3.3-2].
            bool first = false;
            receive_inbound(p.packet_id, first, out);
            if (first) {
                out.push_back(route_publish{message::make(p.topic, p.payload, p.q, p.retain)});
            }
            out.push_back(send_packet{pubrec_packet{p.packet_id}});
            return;
    }
}

// Acknowledgements must match the flow of the message they answer (Mosquitto 2.0.12 and
// later close on a mismatch): PUBACK only for QoS 1, PUBREC then PUBCOMP only for QoS 2. An
// acknowledgement for a packet id with nothing in flight is ignored, except PUBREC, answered with
// PUBREL (a session resuming after a crash may still hold its half of the QoS 2 flow).

bool session::wrong_flow(std::uint16_t id, action_list& out) {
    const auto it =
        std::find_if(inflight_.begin(), inflight_.end(), [id](const inflight_entry& e) { return e.packet_id == id; });
    if (it == inflight_.end()) {
        return false;
    }
    out.push_back(close_connection{make_error_code(errc::protocol_violation)});
    return true;
}

void session::on_puback(std::uint16_t id, action_list& out) {
    const auto it = find_inflight(id, out_state::awaiting_puback);
    if (it == inflight_.end()) {
        (void)wrong_flow(id, out);  // a QoS 2 message answered with PUBACK
        return;
    }
    if (persistent_) {
        out.push_back(erase_message{it->seq});
    }
    inflight_.erase(it);
    pump(out);
}

void session::on_pubrec(std::uint16_t id, action_list& out) {
    auto it = find_inflight(id, out_state::awaiting_pubrec);
    if (it == inflight_.end()) {
        it = find_inflight(id, out_state::awaiting_pubcomp);  // a repeated PUBREC
    }
    if (it == inflight_.end()) {
        if (!wrong_flow(id, out)) {                         // a QoS 1 message answered with PUBREC closes
            out.push_back(send_packet{pubrel_packet{id}});  // unsolicited: release it
        }
        return;
    }
    if (it->state != out_state::awaiting_pubcomp && persistent_) {
        out.push_back(store_message{it->seq, nullptr, it->q, it->retain, id, true});
    }
    it->state = out_state::awaiting_pubcomp;
    it->msg.reset();                                // the message is delivered; only the packet id is still held
    out.push_back(send_packet{pubrel_packet{id}});  // [MQTT-4.3.3-1]
}

void session::on_pubcomp(std::uint16_t id, action_list& out) {
    const auto it = find_inflight(id, out_state::awaiting_pubcomp);
    if (it == inflight_.end()) {
        (void)wrong_flow(id, out);  // a QoS 1 message, or PUBCOMP before PUBREC
        return;
    }
    if (persistent_) {
        out.push_back(erase_message{it->seq});
    }
    inflight_.erase(it);
    pump(out);
}

}  // namespace vigil::mqtt
