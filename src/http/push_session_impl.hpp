#pragma once
// The `/ws` connection (JSON push protocol v1), split over two files: push_session.cpp (the
// connection, its bounded queue, writes and reads, closing) and push_requests.cpp (requests,
// snapshots, replay). Private to the http module.

#include "live.hpp"
#include "push_session.hpp"
#include "stream.hpp"

#include <vigil/auth/tokens.hpp>
#include <vigil/core/log.hpp>
#include <vigil/net/shard_pool.hpp>
#include <vigil/router/hub.hpp>

#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::http::push {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

inline constexpr std::size_t soft_bound = 256 * 1024;        // conflate state telemetry beyond this
inline constexpr std::size_t hard_bound = 16 * 1024 * 1024;  // close with 1013 beyond this
inline constexpr std::size_t max_frame_in = 64 * 1024;
inline constexpr std::size_t max_filters = 256;
inline constexpr std::size_t snapshot_chunk = 1000;           // messages per snapshot or replay frame
inline constexpr std::size_t snapshot_low_water = 64 * 1024;  // more snapshot frames only below this
inline constexpr unsigned max_bad_requests = 100;
inline constexpr std::size_t max_batch_frames = 256;  // JSON objects per WebSocket frame
inline constexpr std::size_t max_batch_bytes = 64 * 1024;
inline constexpr std::size_t idle_buffer = 16 * 1024;  // write buffer kept once the queue empties
inline constexpr std::size_t max_replay = 10'000;      // messages a `since` subscribe replays, at most

/// The shared part of a message's frame (`"topic":...,"payload":...,"time":...}`), built once
/// per shard for consecutive recipients.
[[nodiscard]] std::shared_ptr<const std::string> frame_body(const message_ref& m);

/// One `/ws` connection. Thread safety: shard-affine.
class push_session final : public std::enable_shared_from_this<push_session>, public router::sink, private closable {
public:
    /// `peer`: the browser's address, for the audit lines.
    push_session(stream s, router::hub& hub, asio::thread_pool& queries, std::shared_ptr<const auth::api_token> token,
                 std::shared_ptr<live_connections> live, net::connection_gate::ticket ticket, std::string peer)
        : ws_(std::move(s)),
          hub_(hub),
          queries_(queries),
          token_(std::move(token)),
          live_(std::move(live)),
          ticket_(std::move(ticket)),
          peer_(std::move(peer)) {
        live_->add(shard_, this);
        hub_.count(router::push_event::opened);
    }

    ~push_session() {
        hub_.count(router::push_event::closed);
        live_->remove(shard_, this);
    }
    push_session(const push_session&) = delete;
    push_session& operator=(const push_session&) = delete;

    void start(beast::http::request<beast::http::string_body> req);

    void deliver(const message_ref& m) override;

private:
    /// A queued JSON object: a message (its head is written out with the batch, so queuing
    /// one allocates nothing) or a whole reply.
    struct frame {
        std::shared_ptr<const std::string> body;       // a message's shared tail; null for a reply
        std::uint64_t seq = 0;                         // a message's sequence number
        std::uint64_t replaced = 0;                    // a message's conflated predecessors
        std::string text;                              // a reply
        static constexpr std::size_t head_bytes = 48;  // {"op":"message","seq":N,... (bound)
        [[nodiscard]] std::size_t size() const { return body ? head_bytes + body->size() : text.size(); }
    };
    struct pending {
        message_ref msg;
        std::uint64_t replaced = 0;
    };

    void enqueue_message(const message_ref& m, std::uint64_t replaced);

    void push(frame f);

    void reply(std::string text);

    void error(std::string_view id, std::string_view what);

    void write();

    void on_write(beast::error_code ec);

    void read();

    void on_read(beast::error_code ec);

    void handle(const simdjson::padded_string& text);

    void on_subscribe(simdjson::dom::element req, std::string_view id, bool add);

    /// `since` as a number of milliseconds or an RFC 3339 string.
    static std::optional<std::int64_t> time_of(simdjson::dom::element v);

    /// What `fs` missed since `since`, from the history, then live with no gap and no
    /// duplicate: the subscription is already live, its messages are held meanwhile; once
    /// every shard has handed the history what it routed before now, the history is read off
    /// the shard; the held messages it already holds are dropped at the seam.
    void start_replay(std::string_view id, std::vector<std::string> fs, std::int64_t since);

    void queue_replay(const std::string& id, const std::vector<std::string>& fs, router::replay r);

    /// The replay is queued in full: the live messages held meanwhile follow it, but for
    /// those it already carried.
    void end_replay();

    void send_snapshot(std::string_view id, const std::vector<std::string>& fs);

    /// Queues snapshot chunks while the queue is short.
    void pump_snapshots();

    void on_publish(simdjson::dom::element req, std::string_view id);

    void tokens_changed(const std::shared_ptr<const auth::token_file>& tokens) override;

    void close_for_shutdown() override;

    void close(const websocket::close_reason& why);

    /// Leaves the router and drops what is queued (the connection is gone or going).
    void shutdown();
    /// The audit lines' name for the dashboard: its token's name.
    [[nodiscard]] std::string who() const {
        return token_ ? fmt::format("token '{}'", token_->name) : std::string{"no token"};
    }

    websocket::stream<stream> ws_;
    router::hub& hub_;
    asio::thread_pool& queries_;  // reads the history for a replay, off the shard
    std::shared_ptr<const auth::api_token> token_;
    std::shared_ptr<live_connections> live_;
    net::connection_gate::ticket ticket_;  // its place in the connection bounds
    std::string peer_;
    int shard_ = net::shard_pool::current();
    beast::flat_buffer rx_;
    std::deque<frame> queue_;
    std::size_t queued_ = 0;
    std::string out_;                 // the write in progress
    std::size_t writing_frames_ = 0;  // queue_ entries it carries
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
    bool replaying_ = false;         // a `since` subscribe is being answered
    std::vector<message_ref> held_;  // live messages that follow the replay
    std::size_t held_bytes_ = 0;
    std::set<std::pair<std::int64_t, std::uint64_t>> replayed_;  // time and origin sequence of what it replays
};

}  // namespace vigil::http::push
