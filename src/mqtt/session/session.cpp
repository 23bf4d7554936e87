#include <vigil/mqtt/session/session.hpp>

#include <vigil/mqtt/codec/errc.hpp>

#include <algorithm>
#include <type_traits>

namespace vigil::mqtt {

bool is_mqtt31(const connect_packet& c) noexcept { return c.protocol_name == "MQIsdp" && c.protocol_level == 3; }

error_code check_connect(const connect_packet& c) noexcept {
    const bool v31 = is_mqtt31(c);
    if (!v31 && (c.protocol_name != "MQTT" || c.protocol_level != 4)) {
        return make_error_code(errc::unacceptable_protocol_version);  // [MQTT-3.1.2-2]
    }
    if (v31) {
        // MQTT 3.1 (section 3.1): a client id of 1 to 23 characters, else 0x02.
        const auto chars = std::count_if(c.client_id.begin(), c.client_id.end(), [](char ch) {
            return (static_cast<unsigned char>(ch) & 0xC0u) != 0x80u;  // not a UTF-8 continuation byte
        });
        if (chars < 1 || chars > 23) {
            return make_error_code(errc::identifier_rejected);
        }
    }
    if (c.client_id.empty() && !c.clean_session) {
        return make_error_code(errc::identifier_rejected);  // [MQTT-3.1.3-8]
    }
    return {};
}

session_totals& session_totals::operator+=(const session_totals& o) noexcept {
    persistent_online += o.persistent_online;
    persistent_offline += o.persistent_offline;
    subscriptions += o.subscriptions;
    queued += o.queued;
    queued_bytes += o.queued_bytes;
    inflight += o.inflight;
    return *this;
}

session_totals& session_totals::operator-=(const session_totals& o) noexcept {
    persistent_online -= o.persistent_online;
    persistent_offline -= o.persistent_offline;
    subscriptions -= o.subscriptions;
    queued -= o.queued;
    queued_bytes -= o.queued_bytes;
    inflight -= o.inflight;
    return *this;
}

session::session(std::string client_id, bool persistent, session_limits lim)
    : client_id_(std::move(client_id)), persistent_(persistent), lim_(lim) {}

session::~session() { count_in(nullptr); }

void session::count_in(session_totals* t) noexcept {
    if (totals_.p != nullptr) {
        *totals_.p -= footprint();
    }
    totals_.p = t;
    if (t != nullptr) {
        *t += footprint();
    }
}

session_totals session::footprint() const noexcept {
    session_totals f;
    f.persistent_online = persistent_ && attached_ ? 1 : 0;
    f.persistent_offline = persistent_ && !attached_ ? 1 : 0;
    f.subscriptions = static_cast<std::int64_t>(subs_.size());
    f.queued = static_cast<std::int64_t>(queue_.size());
    f.queued_bytes = static_cast<std::int64_t>(queued_bytes_);
    f.inflight = static_cast<std::int64_t>(inflight_.size());
    return f;
}

void session::restore(std::vector<restored_message> messages, std::vector<std::uint16_t> inbound,
                      const std::vector<std::pair<std::string, qos>>& subscriptions) {
    const tally t{*this};
    for (auto& m : messages) {
        next_seq_ = std::max(next_seq_, m.seq + 1);
        if (m.packet_id == 0) {
            queued_bytes_ += m.msg->payload().size();
            queue_.push_back({std::move(m.msg), m.q, m.retain, m.seq});
            continue;
        }
        const out_state st = m.released                  ? out_state::awaiting_pubcomp
                             : m.q == qos::at_least_once ? out_state::awaiting_puback
                                                         : out_state::awaiting_pubrec;
        last_packet_id_ = m.packet_id;
        inflight_.push_back({m.packet_id, st, m.q, m.retain, std::move(m.msg), m.seq});
    }
    awaiting_pubrel_.insert(inbound.begin(), inbound.end());
    for (const auto& [f, q] : subscriptions) {
        subs_.insert_or_assign(f, q);
    }
}

void session::attach(action_list& out, const authorizer* auth) {
    const tally t{*this};
    attached_ = true;
    auth_ = auth;
    for (auto& e : inflight_) {
        if (e.state == out_state::awaiting_pubcomp) {
            out.push_back(send_packet{pubrel_packet{e.packet_id}});
        } else {
            out.push_back(send_publish{e.msg, e.q, e.packet_id, true, e.retain});
        }
    }
    pump(out);
}

void session::on_packet(const packet& p, action_list& out) {
    const tally t{*this};
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, publish_packet>) {
                on_publish(v, out);
            } else if constexpr (std::is_same_v<T, puback_packet>) {
                on_puback(v.packet_id, out);
            } else if constexpr (std::is_same_v<T, pubrec_packet>) {
                on_pubrec(v.packet_id, out);
            } else if constexpr (std::is_same_v<T, pubrel_packet>) {
                release_inbound(v.packet_id, out);
                out.push_back(send_packet{pubcomp_packet{v.packet_id}});  // [MQTT-4.3.3-2]
            } else if constexpr (std::is_same_v<T, pubcomp_packet>) {
                on_pubcomp(v.packet_id, out);
            } else if constexpr (std::is_same_v<T, subscribe_packet>) {
                on_subscribe(v, out);
            } else if constexpr (std::is_same_v<T, unsubscribe_packet>) {
                on_unsubscribe(v, out);
            } else if constexpr (std::is_same_v<T, pingreq_packet>) {
                out.push_back(send_packet{pingresp_packet{}});  // [MQTT-3.12.4-1]
            } else if constexpr (std::is_same_v<T, disconnect_packet>) {
                out.push_back(close_connection{{}});  // [MQTT-3.14.4-3]; no will
            } else {
                // A second CONNECT [MQTT-3.1.0-2] or a packet only a server sends.
                out.push_back(close_connection{make_error_code(errc::protocol_violation)});
            }
        },
        p);
}

void session::deliver(const message_ref& m, qos q, bool retain, action_list& out) {
    const tally t{*this};
    if (q == qos::at_most_once) {
        if (attached_) {
            out.push_back(send_publish{m, q, 0, false, retain});
        } else {
            ++stats_.dropped_qos0_offline;
        }
        return;
    }
    if (attached_ && queue_.empty() && inflight_.size() < lim_.max_inflight) {
        send_new(m, q, retain, next_seq_++, out);
        return;
    }
    if (queue_.size() >= lim_.max_queued || queued_bytes_ + m->payload().size() > lim_.max_queued_bytes) {
        ++stats_.dropped_queue_full;
        if (attached_) {
            // A subscriber this far behind is disconnected rather than fed a growing backlog;
            // what is queued stays for its next connection.
            out.push_back(close_connection{make_error_code(errc::queue_overflow)});
        }
        return;
    }
    const std::uint64_t seq = next_seq_++;
    queue_.push_back({m, q, retain, seq});
    queued_bytes_ += m->payload().size();
    if (persistent_) {
        out.push_back(store_message{seq, m, q, retain, 0, false});
    }
}

void session::send_new(const message_ref& m, qos q, bool retain, std::uint64_t seq, action_list& out) {
    const std::uint16_t id = next_packet_id();
    const out_state s = q == qos::at_least_once ? out_state::awaiting_puback : out_state::awaiting_pubrec;
    inflight_.push_back({id, s, q, retain, m, seq});
    if (persistent_) {
        out.push_back(store_message{seq, m, q, retain, id, false});
    }
    out.push_back(send_publish{m, q, id, false, retain});
}

void session::receive_inbound(std::uint16_t id, bool& first, action_list& out) {
    first = awaiting_pubrel_.insert(id).second;
    if (first && persistent_) {
        out.push_back(store_inbound{id, true});
    }
}

void session::release_inbound(std::uint16_t id, action_list& out) {
    if (awaiting_pubrel_.erase(id) != 0 && persistent_) {
        out.push_back(store_inbound{id, false});
    }
}

void session::pump(action_list& out) {
    while (attached_ && !queue_.empty() && inflight_.size() < lim_.max_inflight) {
        queued_entry e = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= e.msg->payload().size();
        send_new(e.msg, e.q, e.retain, e.seq, out);
    }
}

std::uint16_t session::next_packet_id() noexcept {
    // The window is far smaller than the id space, so a free id is always near.
    for (;;) {
        last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
        const auto used = std::any_of(inflight_.begin(), inflight_.end(),
                                      [this](const inflight_entry& e) { return e.packet_id == last_packet_id_; });
        if (!used) {
            return last_packet_id_;
        }
    }
}

boost::container::deque<session::inflight_entry>::iterator session::find_inflight(std::uint16_t id, out_state s) {
    return std::find_if(inflight_.begin(), inflight_.end(),
                        [id, s](const inflight_entry& e) { return e.packet_id == id && e.state == s; });
}

}  // namespace vigil::mqtt
