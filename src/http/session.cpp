// HTTP/1.1 sessions on the shards: keep-alive, bounded header and body sizes, idle timeouts,
// a JSON error for every request that cannot be served, and chunked bodies of any size
// (response::next_chunk) made a piece at a time on the query thread.
#include "session.hpp"

#include <vigil/console/console.hpp>
#include <vigil/core/log.hpp>
#include <vigil/http/devices.hpp>
#include <vigil/net/shard_pool.hpp>

#include "mqtt_upgrade.hpp"
#include "push_session.hpp"
#include "request_token.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace vigil::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr auto idle_timeout = std::chrono::seconds{30};
constexpr std::size_t max_header_bytes = 8 * 1024;
constexpr std::size_t max_body_bytes = 64 * 1024;

/// One HTTP connection. Thread safety: shard-affine.
class session final : public std::enable_shared_from_this<session>, private closable {
public:
    session(stream s, std::shared_ptr<const shared_state> st, bool allow_anonymous, net::connection_gate::ticket ticket)
        : stream_(std::move(s)),
          timer_(stream_.get_executor()),
          st_(std::move(st)),
          allow_anonymous_(allow_anonymous),
          ticket_(std::move(ticket)) {}
    ~session() { st_->live->remove(shard_, this); }
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    void start() {
        st_->live->add(shard_, this);
        read();
    }

private:
    void close_for_shutdown() override { close(); }
    void tokens_changed(const std::shared_ptr<const auth::token_file>&) override {}  // checked per request

    /// Closes the connection when the peer is idle (or a TLS handshake stalls) that long.
    void arm_timeout() {
        timer_.expires_after(idle_timeout);
        timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
            if (auto self = weak.lock(); self && !ec) {
                self->close();
            }
        });
    }

    void read() {
        parser_.emplace();
        parser_->header_limit(max_header_bytes);
        parser_->body_limit(max_body_bytes);
        arm_timeout();
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        note_tls();
        if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
            ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
            close();
            return;
        }
        if (ec) {
            if (ec.category() != bhttp::make_error_code(bhttp::error::end_of_stream).category()) {
                // Not an HTTP parse error: the network or TLS failed (plaintext on an HTTPS
                // port, an untrusted client certificate). Nothing can be answered.
                const std::string tls = stream_.valid() ? stream_.tls_failure() : std::string{};
                VIGIL_LOG_LIMITED(info, "http: connection from {} failed: {}", peer(),
                                  tls.empty() ? ec.message() : tls);
                close();
                return;
            }
            const bool too_big = ec == bhttp::error::body_limit || ec == bhttp::error::header_limit;
            VIGIL_LOG_LIMITED(info, "http: bad request: {}", ec.message());
            send({too_big ? 413u : 400u, error_json(too_big ? 413 : 400, fmt::format("bad request: {}", ec.message()))},
                 false);
            return;
        }
        const auto& req = parser_->get();
        const std::string_view target{req.target().data(), req.target().size()};
        const std::string_view path = target.substr(0, target.find('?'));
        if (st_->console && console::site::owns(path)) {
            // Code and styles, no data: served without a token (the page signs in to read).
            serve_console(req, path);
            return;
        }
        std::shared_ptr<const auth::api_token> token;
        const auto tokens = st_->tokens.get();
        // /mqtt clients authenticate with MQTT CONNECT, as on the MQTT listeners.
        if (tokens && path != "/mqtt") {
            token = tokens->find(token_of(req));
            if (!token && path != "/healthz") {
                VIGIL_LOG_LIMITED(info, "http: {} without a valid API token: 401", path);
                send({401, error_json(401,
                                      "a valid API token is required (Authorization: Bearer, access_token, or a "
                                      "token.<T> WebSocket subprotocol)")},
                     false);
                return;
            }
        }
        if (path == "/ws" || path == "/mqtt") {
            upgrade(path, std::move(token));
            return;
        }
        if (!tokens && path.starts_with("/api/v1/admin/") && !local_request(req)) {
            // Open mode (no tokens): no browser page from elsewhere, no DNS rebinding.
            VIGIL_LOG_LIMITED(warn,
                              "http: {} refused: without API tokens the admin API answers loopback clients that name "
                              "it by a loopback host, "
                              "without an Origin (Host '{}')",
                              path, std::string_view{req[bhttp::field::host]});
            send({403, error_json(403,
                                  "without API tokens the admin API takes requests only to a loopback host name and "
                                  "without an Origin header")},
                 false);
            return;
        }
        if (token && path.starts_with("/api/") && !path.starts_with("/api/v1/admin/") &&
            token->rights.scope_of("devices/#") == auth::read_scope::none) {
            send({403, error_json(403, fmt::format("token '{}' may not read any devices/# topic", token->name))},
                 req.keep_alive());
            return;
        }
        const caller who{!tokens || token != nullptr, token ? &token->rights : nullptr, token.get(), peer()};
        response res = st_->h(std::string_view{req.method_string().data(), req.method_string().size()},
                              std::string_view{req.target().data(), req.target().size()}, who);
        // A request without a valid token (/healthz) gets its answer and the connection ends:
        // nobody holds a connection open without one.
        const bool keep_alive = req.keep_alive() && who.authenticated;
        if (res.later) {
            // Off the shard; the answer comes back to this session's shard to be sent.
            timer_.cancel();
            asio::post(*st_->queries, [self = shared_from_this(), ex = stream_.get_executor(),
                                       work = std::move(res.later), keep_alive]() mutable {
                // `self` moves back to the shard: the session must end (and leave the shard's
                // live set) on its own shard, never on a query thread.
                response r;
                try {
                    work(r);
                } catch (const std::exception& e) {
                    // Whatever the work threw, the server stays up and the client is told.
                    VIGIL_LOG_LIMITED(error, "http: a request failed: {}", e.what());
                    r = response{500, error_json(500, "internal error; see the server's log")};
                }
                if (r.next_chunk) {
                    self->st_->counters.response(r.status);
                    auto first = std::make_shared<chunk>();
                    first->head = head_of(r, keep_alive);
                    self->make_chunk(r.next_chunk, *first);
                    asio::post(ex, [self = std::move(self), next = std::move(r.next_chunk), first,
                                    keep_alive]() mutable { self->write_chunk(std::move(next), first, keep_alive); });
                    return;
                }
                asio::post(ex, [self = std::move(self), r = std::move(r), keep_alive]() mutable {
                    self->send(std::move(r), keep_alive);
                });
            });
            return;
        }
        send(std::move(res), keep_alive);
    }

    void upgrade(std::string_view path, std::shared_ptr<const auth::api_token> token) {
        const auto& req = parser_->get();
        const auto origin = req[bhttp::field::origin];
        const std::string_view o{origin.data(), origin.size()};
        const auto& allowed = st_->allowed_origins;
        if (!allowed.empty() && !o.empty() && std::find(allowed.begin(), allowed.end(), o) == allowed.end()) {
            VIGIL_LOG_LIMITED(warn, "http: WebSocket to {} from origin '{}' refused (not in allowed_origins): 403",
                              path, o);
            send({403, error_json(403, fmt::format("this Origin may not open {}", path))}, false);
            return;
        }
        const bool ws = boost::beast::websocket::is_upgrade(req);
        if (path == "/ws") {
            if (st_->up.push == nullptr || !ws) {
                send({426, error_json(426, "/ws speaks WebSocket (JSON push protocol v1): send an Upgrade request")},
                     false);
                return;
            }
            timer_.cancel();
            std::string from = peer();  // before the stream moves
            start_push_session(std::move(stream_), parser_->release(), *st_->up.push, *st_->queries, std::move(token),
                               st_->live, std::move(ticket_), std::move(from));
            return;
        }
        if (!st_->up.mqtt || !ws) {
            send({426, error_json(
                           426, "/mqtt speaks MQTT over WebSocket: send an Upgrade request with subprotocol \"mqtt\"")},
                 false);
            return;
        }
        if (!offers_subprotocol(req, "mqtt")) {
            send({400, error_json(400, "/mqtt needs the WebSocket subprotocol \"mqtt\" (MQTT 3.1.1)")}, false);
            return;
        }
        timer_.cancel();
        const auto extra = buffer_.data();
        std::vector<std::uint8_t> pending(static_cast<const std::uint8_t*>(extra.data()),
                                          static_cast<const std::uint8_t*>(extra.data()) + extra.size());
        start_mqtt_upgrade(std::move(stream_), parser_->release(), std::move(pending), st_->up.mqtt, allow_anonymous_,
                           std::move(ticket_));
    }

    /// A request to a loopback host name (127.0.0.1, [::1], localhost, with any port) without an
    /// Origin header: not a browser page of another site, not a rebound DNS name.
    static bool local_request(const bhttp::request<bhttp::string_body>& req) {
        if (req.find(bhttp::field::origin) != req.end()) {
            return false;
        }
        std::string_view host{req[bhttp::field::host]};
        if (host.starts_with('[')) {
            return host.starts_with("[::1]");
        }
        host = host.substr(0, host.find(':'));
        return host == "127.0.0.1" || host == "localhost";
    }

    /// Counts an HTTPS connection's handshake once, when its first read ends (a request, or
    /// the connection's end).
    void note_tls() {
        if (tls_noted_ || !stream_.valid() || !stream_.is_tls()) {
            return;
        }
        tls_noted_ = true;
        auto& c = st_->counters;
        (stream_.tls_established() ? c.tls_handshakes : c.tls_failures).fetch_add(1, std::memory_order_relaxed);
    }

    void send(response r, bool keep_alive) {
        auto res = start_response(r.status, r.content_type);
        res->set(bhttp::field::cache_control, "no-store");
        res->body() = std::move(r.body);
        res->prepare_payload();
        write(std::move(res), keep_alive);
    }

    using full_response = bhttp::response<bhttp::string_body>;

    /// A response with its status counted and the fields every response has.
    std::shared_ptr<full_response> start_response(unsigned status, std::string_view content_type) {
        st_->counters.response(status);
        auto res = std::make_shared<full_response>(static_cast<bhttp::status>(status), 11);
        res->set(bhttp::field::server, "vigil");
        res->set(bhttp::field::content_type, content_type);
        return res;
    }

    /// Writes `res`, then reads the next request (keep-alive) or closes.
    void write(std::shared_ptr<full_response> res, bool keep_alive) {
        res->keep_alive(keep_alive);
        arm_timeout();
        bhttp::async_write(stream_, *res,
                           [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
                               if (ec || !keep_alive) {
                                   self->close();
                                   return;
                               }
                               self->read();
                           });
    }

    /// One of the console's files. The connection stays open only for a caller with a valid
    /// token, or when tokens are off, as for any other request.
    void serve_console(const bhttp::request<bhttp::string_body>& req, std::string_view path) {
        const auto method = req.method_string();
        const auto inm = req[bhttp::field::if_none_match];
        auto r = st_->console->answer({method.data(), method.size()}, path, {inm.data(), inm.size()});
        const auto tokens = st_->tokens.get();
        const bool keep_alive = req.keep_alive() && (!tokens || tokens->find(token_of(req)));
        auto res = start_response(r.status, r.content_type);
        for (const auto& [name, value] : r.headers) {
            res->set(name, value);
        }
        if (req.method() == bhttp::verb::head) {
            res->content_length(r.body.size());
        } else {
            res->body() = std::move(r.body);
            res->prepare_payload();
        }
        write(std::move(res), keep_alive);
    }

    /// A piece of a chunked body, framed, on its way from the query thread to the shard.
    struct chunk {
        std::string head;  // the response header, before the first piece
        std::string bytes;
        bool last = false;
        bool failed = false;
    };

    /// The header of a chunked response, written by hand: Beast's serializer is not needed
    /// for a header with no length.
    static std::string head_of(const response& r, bool keep_alive) {
        const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
        return fmt::format(
            "HTTP/1.1 {} {}\r\nServer: vigil\r\nContent-Type: {}\r\nCache-Control: no-store\r\nTransfer-Encoding: "
            "chunked\r\nConnection: {}\r\n\r\n",
            r.status, std::string_view{reason.data(), reason.size()}, r.content_type,
            keep_alive ? "keep-alive" : "close");
    }

    /// On the query thread: the next piece, framed as a chunk (and the last chunk after it
    /// when the body ends). A producer that throws ends the body unfinished.
    void make_chunk(const std::function<bool(std::string&)>& next, chunk& c) {
        std::string piece;
        try {
            c.last = !next(piece);
        } catch (const std::exception& e) {
            VIGIL_LOG_LIMITED(
                warn,
                "http: a streamed answer to {} failed midway: {}; the connection is closed without its last chunk",
                peer(), e.what());
            c.failed = true;
            return;
        }
        if (!piece.empty()) {
            c.bytes = fmt::format("{:x}\r\n", piece.size());
            c.bytes += piece;
            c.bytes += "\r\n";
        }
        if (c.last) {
            c.bytes += "0\r\n\r\n";
        }
    }

    /// Sends a chunked body a piece at a time: the next piece is made only once this one is
    /// written, so a body of any size takes the memory of one piece.
    void write_chunk(std::function<bool(std::string&)> next, std::shared_ptr<chunk> c, bool keep_alive) {
        if (c->failed) {
            close();
            return;
        }
        c->head += c->bytes;
        arm_timeout();
        asio::async_write(
            stream_, asio::buffer(c->head),
            [self = shared_from_this(), next = std::move(next), c, keep_alive](beast::error_code ec,
                                                                               std::size_t) mutable {
                if (ec || (c->last && !keep_alive)) {
                    self->close();
                    return;
                }
                if (c->last) {
                    self->read();
                    return;
                }
                self->timer_.cancel();
                auto ex = self->stream_.get_executor();
                auto& queries = *self->st_->queries;
                asio::post(queries, [self = std::move(self), ex, next = std::move(next), keep_alive]() mutable {
                    auto piece = std::make_shared<chunk>();
                    self->make_chunk(next, *piece);
                    asio::post(ex, [self = std::move(self), next = std::move(next), piece, keep_alive]() mutable {
                        self->write_chunk(std::move(next), piece, keep_alive);
                    });
                });
            });
    }

    /// The client's address:port, for logs.
    [[nodiscard]] std::string peer() {
        beast::error_code ec;
        const auto ep = stream_.socket().remote_endpoint(ec);
        return ec ? std::string{"?"} : fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }

    void close() {
        timer_.cancel();
        if (!stream_.valid()) {
            return;  // handed to a WebSocket session
        }
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    int shard_ = net::shard_pool::current();
    stream stream_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::shared_ptr<const shared_state> st_;
    bool allow_anonymous_;
    bool tls_noted_ = false;               // its TLS handshake was counted
    net::connection_gate::ticket ticket_;  // handed on with the stream on an upgrade
};

}  // namespace

void start_session(stream s, std::shared_ptr<const shared_state> st, bool allow_anonymous,
                   net::connection_gate::ticket ticket) {
    std::make_shared<session>(std::move(s), std::move(st), allow_anonymous, std::move(ticket))->start();
}

}  // namespace vigil::http
