// The `/ws` requests: subscribe (with its snapshot, or with `since` its replay from the history
// and the seam to live messages), unsubscribe, publish, ping.
#include "push_session_impl.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/http/json.hpp>
#include <vigil/http/query.hpp>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <utility>

namespace vigil::http::push {

void push_session::handle(const simdjson::padded_string& text) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element req;
    if (parser.parse(text).get(req) != simdjson::SUCCESS || !req.is_object()) {
        error("", "not a JSON object");
        return;
    }
    std::string_view id;
    if (req["id"].get(id) != simdjson::SUCCESS) {
        id = {};
    }
    std::string_view op;
    if (req["op"].get(op) != simdjson::SUCCESS) {
        error(id, "missing \"op\"");
        return;
    }
    if (op == "ping") {
        std::string r = "{\"op\":\"pong\",\"id\":";
        append_json_string(r, id);
        reply(r + "}");
    } else if (op == "subscribe" || op == "unsubscribe") {
        on_subscribe(req, id, op == "subscribe");
    } else if (op == "publish") {
        on_publish(req, id);
    } else {
        error(id, fmt::format("unknown op \"{}\": use subscribe, unsubscribe, publish or ping", op));
    }
}

void push_session::on_subscribe(simdjson::dom::element req, std::string_view id, bool add) {
    simdjson::dom::array filters;
    if (req["filters"].get(filters) != simdjson::SUCCESS || filters.size() == 0) {
        error(id, "\"filters\" must be a non-empty array of topic filters");
        return;
    }
    std::vector<std::string> fs;
    for (auto f : filters) {
        std::string_view s;
        if (f.get(s) != simdjson::SUCCESS || !topic::valid_filter(s)) {
            error(id, "every filter must be a valid MQTT topic filter");
            return;
        }
        if (add && token_ && token_->rights.scope_of(s) == auth::read_scope::none) {
            error(id, fmt::format("token '{}' may not read any topic of \"{}\"", token_->name, s));
            return;
        }
        fs.emplace_back(s);
    }
    if (add && filters_.size() + fs.size() > max_filters) {
        error(id, fmt::format("at most {} filters per connection", max_filters));
        return;
    }
    std::optional<std::int64_t> since;
    if (auto v = req["since"]; add && v.error() == simdjson::SUCCESS) {
        since = time_of(v.value_unsafe());
        if (!since) {
            error(id, "\"since\" must be a time: milliseconds since 1970 or RFC 3339 (2026-12-03T14:00:00Z)");
            return;
        }
        if (replaying_) {
            error(id, "a replay is already running on this connection: subscribe with \"since\" once it has ended");
            return;
        }
    }
    std::string r = fmt::format("{{\"op\":\"{}\",\"id\":", add ? "subscribed" : "unsubscribed");
    append_json_string(r, id);
    r += ",\"filters\":[";
    for (std::size_t i = 0; i < fs.size(); ++i) {
        append_json_string(r, fs[i]);
        r += i + 1 < fs.size() ? "," : "";
        if (add) {
            if (filters_.insert(fs[i]).second) {
                if (token_ && token_->rights.scope_of(fs[i]) != auth::read_scope::all) {
                    ++checked_filters_;
                }
                hub_.subscribe(*this, fs[i]);
            }
        } else if (filters_.erase(fs[i]) != 0) {
            if (token_ && token_->rights.scope_of(fs[i]) != auth::read_scope::all) {
                --checked_filters_;
            }
            hub_.unsubscribe(*this, fs[i]);
        }
    }
    reply(r + "]}");
    if (since) {
        start_replay(id, std::move(fs), *since);
    } else if (add) {
        send_snapshot(id, fs);
    }
}

std::optional<std::int64_t> push_session::time_of(simdjson::dom::element v) {
    std::int64_t ms = 0;
    if (v.get(ms) == simdjson::SUCCESS) {
        return ms;
    }
    std::string_view text;
    if (v.get(text) == simdjson::SUCCESS) {
        return parse_time(text);
    }
    return std::nullopt;
}

void push_session::start_replay(std::string_view id, std::vector<std::string> fs, std::int64_t since) {
    replaying_ = true;
    hub_.after_all_shards([self = shared_from_this(), id = std::string{id}, fs = std::move(fs), since]() mutable {
        if (self->closed_) {
            return;
        }
        auto& queries = self->queries_;  // `self` moves along, and back: the session ends on its shard
        asio::post(queries, [self = std::move(self), id = std::move(id), fs = std::move(fs), since]() mutable {
            auto token = self->token_;
            router::replay r = self->hub_.history_since(
                fs, since, max_replay, [&token](std::string_view t) { return !token || token->rights.may_read(t); });
            auto ex = self->ws_.get_executor();
            asio::post(ex, [self = std::move(self), id = std::move(id), fs = std::move(fs),
                            r = std::move(r)]() mutable { self->queue_replay(id, fs, std::move(r)); });
        });
    });
}

void push_session::queue_replay(const std::string& id, const std::vector<std::string>& fs, router::replay r) {
    if (closed_) {
        return;
    }
    snapshot s;
    s.id = id;
    s.op = "replay";
    s.last_extra = fmt::format(",\"recovered\":{}", r.complete ? "true" : "false");
    for (auto& a : r.messages) {
        replayed_.emplace(a.msg->time_ms(), a.seq);
        s.replayed.push_back(std::move(a.msg));
    }
    snapshots_.push_back(std::move(s));
    if (!r.complete) {
        send_snapshot(id, fs);  // the current values, at least
    } else {
        pump_snapshots();
    }
}

void push_session::end_replay() {
    replaying_ = false;
    auto held = std::exchange(held_, {});
    held_bytes_ = 0;
    for (const auto& m : held) {
        if (!replayed_.contains({m->time_ms(), m->origin().seq})) {
            deliver(m);
        }
    }
    replayed_.clear();
}

void push_session::send_snapshot(std::string_view id, const std::vector<std::string>& fs) {
    // The newest known value of every matching topic, right after "subscribed", sent a
    // chunk at a time as the queue drains: a large snapshot never counts against the
    // slow-client close, and a live message that overtakes it replaces its topic's entry.
    snapshot s;
    s.id = id;
    for (const auto& f : fs) {
        for (auto& m : hub_.snapshot(f)) {
            if (!token_ || token_->rights.may_read(m->topic())) {
                s.pending.emplace(m->topic(), m);
            }
        }
    }
    snapshots_.push_back(std::move(s));
    pump_snapshots();
}

void push_session::pump_snapshots() {
    while (!snapshots_.empty() && !closed_ && queued_ < snapshot_low_water) {
        auto& s = snapshots_.front();
        std::string r = fmt::format("{{\"op\":\"{}\",\"id\":", s.op);
        append_json_string(r, s.id);
        r += ",\"messages\":[";
        std::size_t n = 0;
        for (auto it = s.pending.begin(); it != s.pending.end() && n < snapshot_chunk; it = s.pending.erase(it), ++n) {
            r += n == 0 ? "{" : ",{";
            r += *frame_body(it->second);
        }
        for (; !s.replayed.empty() && n < snapshot_chunk; s.replayed.pop_front(), ++n) {
            r += n == 0 ? "{" : ",{";
            r += *frame_body(s.replayed.front());
        }
        const bool last = s.pending.empty() && s.replayed.empty();
        r += fmt::format("],\"last\":{}{}}}", last ? "true" : "false", last ? s.last_extra : std::string{});
        const bool replay_done = last && s.op == "replay";
        if (last) {
            snapshots_.pop_front();
        }
        reply(std::move(r));
        if (replay_done) {
            end_replay();
        }
    }
}

void push_session::on_publish(simdjson::dom::element req, std::string_view id) {
    std::string_view t;
    if (req["topic"].get(t) != simdjson::SUCCESS || !topic::valid_name(t) || t.starts_with("$")) {
        error(id, "\"topic\" must be a valid topic name outside $SYS");
        return;
    }
    if (token_ && !token_->rights.may_write(t)) {
        error(id, fmt::format("token '{}' may not publish to \"{}\"", token_->name, t));
        return;
    }
    simdjson::dom::element payload;
    if (req["payload"].get(payload) != simdjson::SUCCESS) {
        error(id, "missing \"payload\"");
        return;
    }
    bool retain = false;
    if (auto r = req["retain"]; r.error() == simdjson::SUCCESS && r.get(retain) != simdjson::SUCCESS) {
        error(id, "\"retain\" must be true or false");
        return;
    }
    // A JSON string is sent as its text; anything else as its JSON encoding.
    std::string bytes;
    std::string_view s;
    if (payload.get(s) == simdjson::SUCCESS) {
        bytes = s;
    } else {
        bytes = simdjson::minify(payload);
    }
    // "published" means what PUBACK means: in durable mode, committed to the store.
    // What a dashboard sets is counted against its token (all of them share one without tokens).
    hub_.publish(message::make(t, {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()},
                               qos::at_least_once, retain),
                 token_ ? fmt::format("API token '{}'", token_->name) : std::string{"dashboards without a token"},
                 [weak = weak_from_this(), rid = std::string{id}](bool committed) {
                     auto self = weak.lock();
                     if (!self || self->closed_) {
                         return;
                     }
                     if (!committed) {
                         self->error(rid, "not stored: the server's store failed; publish again later");
                         return;
                     }
                     std::string r = "{\"op\":\"published\",\"id\":";
                     append_json_string(r, rid);
                     self->reply(r + "}");
                 });
}

}  // namespace vigil::http::push
