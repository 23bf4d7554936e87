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
#include "push_session.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/http/json.hpp>
#include <vigil/http/query.hpp>
#include <vigil/net/shard_pool.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace vigil::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

constexpr std::size_t soft_bound = 256 * 1024;       // conflate state telemetry beyond this
constexpr std::size_t hard_bound = 16 * 1024 * 1024;  // close with 1013 beyond this
constexpr std::size_t max_frame_in = 64 * 1024;
constexpr std::size_t max_filters = 256;
constexpr std::size_t snapshot_chunk = 1000;          // messages per snapshot frame
constexpr std::size_t snapshot_low_water = 64 * 1024;  // more snapshot frames only below this
constexpr unsigned max_bad_requests = 100;
constexpr std::size_t max_batch_frames = 256;         // JSON objects per WebSocket frame
constexpr std::size_t max_batch_bytes = 64 * 1024;
constexpr std::size_t idle_buffer = 16 * 1024;         // write buffer kept once the queue empties
constexpr std::size_t max_replay = 10'000;             // messages a `since` subscribe replays, at most

/// The shared part of a message's frame, built once per shard for consecutive recipients.
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

class push_session final : public std::enable_shared_from_this<push_session>, public router::sink, private closable {
public:
    push_session(stream s, router::hub& hub, asio::thread_pool& queries, std::shared_ptr<const auth::api_token> token, std::shared_ptr<live_connections> live, net::connection_gate::ticket ticket)
        : ws_(std::move(s)), hub_(hub), queries_(queries), token_(std::move(token)), live_(std::move(live)), ticket_(std::move(ticket)) {
        live_->add(shard_, this);
    }

    ~push_session() { live_->remove(shard_, this); }
    push_session(const push_session&) = delete;
    push_session& operator=(const push_session&) = delete;

    void start(beast::http::request<beast::http::string_body> req) {
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
            self->read();
        });
    }

    void deliver(const message_ref& m) override {
        if (closed_) {
            return;
        }
        if (checked_filters_ > 0 && !token_->rights.may_read(m->topic())) {
            return;  // a limited subscription: authorization where data leaves
        }
        if (replaying_) {
            // Live messages wait behind the replay, so they follow it in order.
            held_bytes_ += m->payload().size() + m->topic().size() + frame::head_bytes;
            held_.push_back(m);
            if (held_bytes_ > hard_bound) {
                VIGIL_LOG_LIMITED(warn, "push: a WebSocket client is {} bytes behind during a replay: closing it (1013)", held_bytes_);
                close(websocket::close_reason(websocket::close_code::try_again_later, "too far behind"));
            }
            return;
        }
        for (auto& s : snapshots_) {
            s.pending.erase(m->topic());  // newer than what a snapshot still to be sent holds
        }
        if (conflating_ && m->published_qos() == qos::at_most_once && hub_.is_state_topic(m->topic())) {
            auto& p = conflated_[std::string{m->topic()}];
            p.replaced += p.msg ? 1u : 0u;
            p.msg = m;
            return;
        }
        enqueue_message(m, 0);
    }

private:
    /// A queued JSON object: a message (its head is written out with the batch, so queuing
    /// one allocates nothing) or a whole reply.
    struct frame {
        std::shared_ptr<const std::string> body;  // a message's shared tail; null for a reply
        std::uint64_t seq = 0;                    // a message's sequence number
        std::uint64_t replaced = 0;               // a message's conflated predecessors
        std::string text;                         // a reply
        static constexpr std::size_t head_bytes = 48;  // {"op":"message","seq":N,... (bound)
        [[nodiscard]] std::size_t size() const { return body ? head_bytes + body->size() : text.size(); }
    };
    struct pending {
        message_ref msg;
        std::uint64_t replaced = 0;
    };

    void enqueue_message(const message_ref& m, std::uint64_t replaced) {
        frame f;
        f.body = frame_body(m);
        f.seq = ++seq_;
        f.replaced = replaced;
        push(std::move(f));
    }

    void push(frame f) {
        queued_ += f.size();
        queue_.push_back(std::move(f));
        if (queued_ > hard_bound) {
            VIGIL_LOG_LIMITED(warn, "push: a WebSocket client is {} bytes behind: closing it (1013)", queued_);
            close(websocket::close_reason(websocket::close_code::try_again_later, "too far behind"));
            return;
        }
        if (queued_ > soft_bound) {
            conflating_ = true;
        }
        write();
    }

    void reply(std::string text) {
        frame f;
        f.text = std::move(text);
        push(std::move(f));
    }

    void error(std::string_view id, std::string_view what) {
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

    void write() {
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
        ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(beast::error_code ec) {
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

    void read() {
        ws_.async_read(rx_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
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

    void handle(const simdjson::padded_string& text) {
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

    void on_subscribe(simdjson::dom::element req, std::string_view id, bool add) {
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

    /// `since` as a number of milliseconds or an RFC 3339 string.
    static std::optional<std::int64_t> time_of(simdjson::dom::element v) {
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

    /// What `fs` missed since `since`, from the history, then live with no gap and no
    /// duplicate: the subscription is already live, its messages are held meanwhile; once
    /// every shard has handed the history what it routed before now, the history is read off
    /// the shard; the held messages it already holds are dropped at the seam.
    void start_replay(std::string_view id, std::vector<std::string> fs, std::int64_t since) {
        replaying_ = true;
        hub_.after_all_shards([self = shared_from_this(), id = std::string{id}, fs = std::move(fs), since]() mutable {
            if (self->closed_) {
                return;
            }
            asio::post(self->queries_, [self, id = std::move(id), fs = std::move(fs), since]() mutable {
                auto token = self->token_;
                router::replay r = self->hub_.history_since(fs, since, max_replay, [&token](std::string_view t) { return !token || token->rights.may_read(t); });
                asio::post(self->ws_.get_executor(), [self, id = std::move(id), fs = std::move(fs), r = std::move(r)]() mutable {
                    self->queue_replay(id, fs, std::move(r));
                });
            });
        });
    }

    void queue_replay(const std::string& id, const std::vector<std::string>& fs, router::replay r) {
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

    /// The replay is queued in full: the live messages held meanwhile follow it, but for
    /// those it already carried.
    void end_replay() {
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

    void send_snapshot(std::string_view id, const std::vector<std::string>& fs) {
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

    /// Queues snapshot chunks while the queue is short.
    void pump_snapshots() {
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

    void on_publish(simdjson::dom::element req, std::string_view id) {
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
        hub_.publish(message::make(t, {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, qos::at_least_once, retain),
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

    void tokens_changed(const std::shared_ptr<const auth::token_file>& tokens) override {
        if (!token_ || closed_) {
            return;
        }
        const auto now = tokens ? tokens->find_hash(token_->hash) : nullptr;
        if (now && now->same_as(*token_)) {
            return;
        }
        log::warn("push: closing a dashboard using token '{}': the token was {} (1008)", token_->name, now ? "changed" : "removed");
        if (!attached_) {
            ws_.next_layer().close();  // still in the handshake
            return;
        }
        close(websocket::close_reason(websocket::close_code::policy_error, "API token revoked"));
    }

    void close_for_shutdown() override {
        if (!attached_) {
            ws_.next_layer().close();  // still in the handshake
            return;
        }
        close(websocket::close_reason(websocket::close_code::going_away, "server stopping"));
    }

    void close(const websocket::close_reason& why) {
        if (closed_) {
            return;
        }
        shutdown();
        ws_.async_close(why, [self = shared_from_this()](beast::error_code) {});
    }

    /// Leaves the router and drops what is queued (the connection is gone or going).
    void shutdown() {
        if (closed_) {
            return;
        }
        closed_ = true;
        if (attached_) {
            hub_.detach(*this);
            attached_ = false;
        }
        queue_.clear();  // a write in progress has its bytes in out_
        queued_ = 0;
        conflated_.clear();
        snapshots_.clear();
        held_.clear();
        held_bytes_ = 0;
    }

    websocket::stream<stream> ws_;
    router::hub& hub_;
    asio::thread_pool& queries_;  // reads the history for a replay, off the shard
    std::shared_ptr<const auth::api_token> token_;
    std::shared_ptr<live_connections> live_;
    net::connection_gate::ticket ticket_;  // its place in the connection bounds
    int shard_ = net::shard_pool::current();
    beast::flat_buffer rx_;
    std::deque<frame> queue_;
    std::size_t queued_ = 0;
    std::string out_;                    // the write in progress
    std::size_t writing_frames_ = 0;     // queue_ entries it carries
    bool writing_ = false;
    bool closed_ = false;
    bool attached_ = false;
    bool conflating_ = false;
    std::map<std::string, pending> conflated_;
    /// A snapshot or replay not yet sent in full: its request id, and the newest message per
    /// topic still to send (a snapshot; keys view into the messages) or the messages in time
    /// order (a replay).
    struct snapshot {
        std::string id;
        std::string op = "snapshot";
        std::map<std::string_view, message_ref> pending;
        std::deque<message_ref> replayed;
        std::string last_extra;  // added to the last frame
    };
    std::deque<snapshot> snapshots_;
    std::set<std::string> filters_;
    std::size_t checked_filters_ = 0;  // filters of which the token may read only some topics
    std::uint64_t seq_ = 0;
    unsigned bad_requests_ = 0;
    bool replaying_ = false;                   // a `since` subscribe is being answered
    std::vector<message_ref> held_;            // live messages that follow the replay
    std::size_t held_bytes_ = 0;
    std::set<std::pair<std::int64_t, std::uint64_t>> replayed_;  // time and origin sequence of what it replays
};

}  // namespace

void start_push_session(stream s, beast::http::request<beast::http::string_body> req, router::hub& hub, asio::thread_pool& queries, std::shared_ptr<const auth::api_token> token, std::shared_ptr<live_connections> live, net::connection_gate::ticket ticket) {
    std::make_shared<push_session>(std::move(s), hub, queries, std::move(token), std::move(live), std::move(ticket))->start(std::move(req));
}

}  // namespace vigil::http
