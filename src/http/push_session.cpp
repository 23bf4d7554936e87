// JSON push sessions: router subscribers that turn messages into JSON frames.
//
// Wire shape: a WebSocket text frame carries one or more JSON objects, one per line.
//
// Design note. A message's JSON body (topic, payload, time) is built once per shard and shared
// by every connection it goes to; each frame adds only its connection's sequence number. The
// send queue is bounded in bytes. Past the soft bound, QoS 0 telemetry on `state.topics` is
// conflated: only the newest value per topic waits (with a count of what it replaced) until the
// queue drains; other messages keep queuing, and past the hard bound the connection is closed
// with 1013 (try again later). Nothing else on the shard waits for a slow client.
#include "push_session_impl.hpp"

#include <vigil/core/log.hpp>
#include <vigil/http/json.hpp>

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <fmt/format.h>

namespace vigil::http {
namespace push {

std::shared_ptr<const std::string> frame_body(const message_ref& m) {
    thread_local message_ref last;
    thread_local std::shared_ptr<const std::string> body;
    if (last != m) {
        std::string b = "\"topic\":";
        append_json_string(b, m->topic());
        b += ",\"payload\":";
        append_payload(b, *m);
        b += fmt::format(",\"time\":{}}}", m->time_ms());
        body = std::make_shared<const std::string>(std::move(b));
        last = m;
    }
    return body;
}

void push_session::start(beast::http::request<beast::http::string_body> req) {
    ws_.read_message_max(max_frame_in);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    // Browsers that offer subprotocols (a token travels as "token.<secret>") need one
    // chosen: "vigil.v1".
    const auto offered = req[beast::http::field::sec_websocket_protocol];
    const bool v1 = std::string_view{offered.data(), offered.size()}.find("vigil.v1") != std::string_view::npos;
    ws_.set_option(websocket::stream_base::decorator([v1](websocket::response_type& res) {
        res.set(beast::http::field::server, "vigil");
        if (v1) {
            res.set(beast::http::field::sec_websocket_protocol, "vigil.v1");
        }
    }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
        if (ec) {
            return;
        }
        self->hub_.attach(*self);
        self->attached_ = true;
        log::info("{}: dashboard connected (/ws, {})", self->peer_, self->who());
        self->read();
    });
}

void push_session::deliver(const message_ref& m) {
    if (closed_) {
        return;
    }
    if (checked_filters_ > 0 && !token_->rights.may_read(m->topic())) {
        hub_.count(router::push_event::denied);
        return;  // a limited subscription: authorization where data leaves
    }
    if (replaying_) {
        // Live messages wait behind the replay, so they follow it in order.
        held_bytes_ += m->payload().size() + m->topic().size() + frame::head_bytes;
        held_.push_back(m);
        if (held_bytes_ > hard_bound) {
            hub_.count(router::push_event::too_slow);
            VIGIL_LOG_LIMITED(warn, "push: a WebSocket client is {} bytes behind during a replay: closing it (1013)",
                              held_bytes_);
            close(websocket::close_reason(websocket::close_code::try_again_later, "too far behind"));
        }
        return;
    }
    for (auto& s : snapshots_) {
        s.pending.erase(m->topic());  // newer than what a snapshot still to be sent holds
    }
    if (conflating_ && m->published_qos() == qos::at_most_once && hub_.is_state_topic(m->topic())) {
        auto& p = conflated_[std::string{m->topic()}];
        if (p.msg) {
            ++p.replaced;
            hub_.count(router::push_event::conflated);
        }
        p.msg = m;
        return;
    }
    enqueue_message(m, 0);
}

void push_session::enqueue_message(const message_ref& m, std::uint64_t replaced) {
    hub_.count(router::push_event::sent);
    frame f;
    f.body = frame_body(m);
    f.seq = ++seq_;
    f.replaced = replaced;
    push(std::move(f));
}

void push_session::push(frame f) {
    queued_ += f.size();
    queue_.push_back(std::move(f));
    if (queued_ > hard_bound) {
        hub_.count(router::push_event::too_slow);
        VIGIL_LOG_LIMITED(warn, "push: a WebSocket client is {} bytes behind: closing it (1013)", queued_);
        close(websocket::close_reason(websocket::close_code::try_again_later, "too far behind"));
        return;
    }
    if (queued_ > soft_bound) {
        conflating_ = true;
    }
    write();
}

void push_session::reply(std::string text) {
    frame f;
    f.text = std::move(text);
    push(std::move(f));
}

void push_session::error(std::string_view id, std::string_view what) {
    std::string e = "{\"op\":\"error\",\"id\":";
    append_json_string(e, id);
    e += ",\"error\":";
    append_json_string(e, what);
    e += "}";
    reply(std::move(e));
    if (++bad_requests_ > max_bad_requests) {
        close(websocket::close_reason(websocket::close_code::policy_error, "too many bad requests"));
    }
}

void push_session::write() {
    if (writing_ || queue_.empty() || closed_) {
        return;
    }
    // Everything queued (up to a bound) leaves in one WebSocket frame, one JSON object per
    // line, copied into one buffer: one write and one frame header for a burst, and one
    // buffer for the system call (a buffer per object part capped a call at ~21 objects).
    writing_ = true;
    out_.clear();
    writing_frames_ = 0;
    for (const frame& f : queue_) {
        if (writing_frames_ == max_batch_frames || (writing_frames_ > 0 && out_.size() + f.size() > max_batch_bytes)) {
            break;
        }
        if (writing_frames_ > 0) {
            out_ += '\n';
        }
        if (!f.body) {
            out_ += f.text;
        } else {
            fmt::format_to(std::back_inserter(out_), "{{\"op\":\"message\",\"seq\":{},", f.seq);
            if (f.replaced > 0) {
                fmt::format_to(std::back_inserter(out_), "\"conflated\":{},", f.replaced);
            }
            out_ += *f.body;
        }
        ++writing_frames_;
    }
    ws_.text(true);
    ws_.async_write(asio::buffer(out_),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void push_session::on_write(beast::error_code ec) {
    writing_ = false;
    if (closed_) {
        return;
    }
    if (ec) {
        shutdown();
        return;
    }
    for (std::size_t i = 0; i < writing_frames_; ++i) {
        queued_ -= queue_.front().size();
        queue_.pop_front();
    }
    if (queue_.empty() && out_.capacity() > idle_buffer) {
        std::string{}.swap(out_);  // an idle dashboard keeps no write buffer
    }
    pump_snapshots();
    if (conflating_ && queued_ <= soft_bound / 2) {
        conflating_ = false;
        auto newest = std::move(conflated_);
        conflated_.clear();
        for (auto& [topic, p] : newest) {
            enqueue_message(p.msg, p.replaced);
        }
    }
    write();
}

void push_session::read() {
    ws_.async_read(rx_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void push_session::on_read(beast::error_code ec) {
    if (ec == websocket::error::message_too_big) {
        close(websocket::close_reason(websocket::close_code::too_big, "request over 64 KiB"));
        return;
    }
    if (ec) {
        shutdown();
        return;
    }
    if (!ws_.got_text()) {
        rx_.consume(rx_.size());
        error("", "requests are JSON text frames");
    } else {
        simdjson::padded_string text{beast::buffers_to_string(rx_.data())};
        rx_.consume(rx_.size());
        handle(text);
    }
    if (!closed_) {
        read();
    }
}

void push_session::tokens_changed(const std::shared_ptr<const auth::token_file>& tokens) {
    if (!token_ || closed_) {
        return;
    }
    const auto now = tokens ? tokens->find_hash(token_->hash) : nullptr;
    if (now && now->same_as(*token_)) {
        return;
    }
    log::warn("push: closing a dashboard using token '{}': the token was {} (1008)", token_->name,
              now ? "changed" : "removed");
    if (!attached_) {
        ws_.next_layer().close();  // still in the handshake
        return;
    }
    close(websocket::close_reason(websocket::close_code::policy_error, "API token revoked"));
}

void push_session::close_for_shutdown() {
    if (!attached_) {
        ws_.next_layer().close();  // still in the handshake
        return;
    }
    close(websocket::close_reason(websocket::close_code::going_away, "server stopping"));
}

void push_session::close(const websocket::close_reason& why) {
    if (closed_) {
        return;
    }
    shutdown();
    ws_.async_close(why, [self = shared_from_this()](beast::error_code) {});
}

void push_session::shutdown() {
    if (closed_) {
        return;
    }
    closed_ = true;
    if (attached_) {
        hub_.detach(*this);
        attached_ = false;
        log::info("{}: dashboard disconnected (/ws, {})", peer_, who());
    }
    queue_.clear();  // a write in progress has its bytes in out_
    queued_ = 0;
    conflated_.clear();
    snapshots_.clear();
    held_.clear();
    held_bytes_ = 0;
}

}  // namespace push

void start_push_session(stream s, boost::beast::http::request<boost::beast::http::string_body> req, router::hub& hub,
                        boost::asio::thread_pool& queries, std::shared_ptr<const auth::api_token> token,
                        std::shared_ptr<live_connections> live, net::connection_gate::ticket ticket, std::string peer) {
    std::make_shared<push::push_session>(std::move(s), hub, queries, std::move(token), std::move(live),
                                         std::move(ticket), std::move(peer))
        ->start(std::move(req));
}

}  // namespace vigil::http
