// HTTP/1.1 sessions on the shards: keep-alive, bounded header and body sizes, idle timeouts,
// and a JSON error for every request that cannot be served.
#include <vigil/http/server.hpp>

#include <vigil/auth/tokens.hpp>
#include <vigil/core/log.hpp>
#include <vigil/core/token_bucket.hpp>
#include <vigil/http/devices.hpp>
#include <vigil/net/gate.hpp>
#include <vigil/net/listen.hpp>
#include <vigil/net/shard_pool.hpp>

#include "live.hpp"
#include "request_token.hpp"
#include "mqtt_upgrade.hpp"
#include "push_session.hpp"
#include "stream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
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
#include <mutex>
#include <optional>
#include <system_error>


namespace vigil::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr auto idle_timeout = std::chrono::seconds{30};
constexpr std::size_t max_header_bytes = 8 * 1024;
constexpr std::size_t max_body_bytes = 64 * 1024;

/// The API tokens in force, replaced on SIGHUP. Thread safety: safe. (A mutex, not
/// std::atomic<std::shared_ptr>: libstdc++ 12's lock bit is invisible to ThreadSanitizer.)
class token_slot {
public:
    [[nodiscard]] std::shared_ptr<const auth::token_file> get() const {
        const std::lock_guard lock{mu_};
        return tokens_;
    }
    void set(std::shared_ptr<const auth::token_file> t) {
        const std::lock_guard lock{mu_};
        tokens_ = std::move(t);
    }

private:
    mutable std::mutex mu_;
    std::shared_ptr<const auth::token_file> tokens_;
};

/// What every session of a server shares.
struct shared_state {
    handler h;
    upgrades up;
    std::vector<std::string> allowed_origins;
    token_slot tokens;
    std::shared_ptr<live_connections> live;  // closed by stop()
    net::connection_gate* gate = nullptr;    // null: no connection bounds
    asio::thread_pool* queries = nullptr;    // runs response::later, one at a time
};

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
        bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(beast::error_code ec) {
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
                VIGIL_LOG_LIMITED(info, "http: connection from {} failed: {}", peer(), tls.empty() ? ec.message() : tls);
                close();
                return;
            }
            const bool too_big = ec == bhttp::error::body_limit || ec == bhttp::error::header_limit;
            VIGIL_LOG_LIMITED(info, "http: bad request: {}", ec.message());
            send({too_big ? 413u : 400u, error_json(too_big ? 413 : 400, fmt::format("bad request: {}", ec.message()))}, false);
            return;
        }
        const auto& req = parser_->get();
        const std::string_view target{req.target().data(), req.target().size()};
        const std::string_view path = target.substr(0, target.find('?'));
        std::shared_ptr<const auth::api_token> token;
        const auto tokens = st_->tokens.get();
        // /mqtt clients authenticate with MQTT CONNECT, as on the MQTT listeners.
        if (tokens && path != "/mqtt") {
            token = tokens->find(token_of(req));
            if (!token && path != "/healthz") {
                VIGIL_LOG_LIMITED(info, "http: {} without a valid API token: 401", path);
                send({401, error_json(401, "a valid API token is required (Authorization: Bearer, access_token, or a token.<T> WebSocket subprotocol)")}, false);
                return;
            }
        }
        if (path == "/ws" || path == "/mqtt") {
            upgrade(path, std::move(token));
            return;
        }
        if (token && path.starts_with("/api/") && token->rights.scope_of("devices/#") == auth::read_scope::none) {
            send({403, error_json(403, fmt::format("token '{}' may not read any devices/# topic", token->name))}, req.keep_alive());
            return;
        }
        const caller who{!tokens || token != nullptr, token ? &token->rights : nullptr};
        response res = st_->h(std::string_view{req.method_string().data(), req.method_string().size()},
                                std::string_view{req.target().data(), req.target().size()}, who);
        // A request without a valid token (/healthz) gets its answer and the connection ends:
        // nobody holds a connection open without one.
        const bool keep_alive = req.keep_alive() && who.authenticated;
        if (res.later) {
            // Off the shard; the answer comes back to this session's shard to be sent.
            timer_.cancel();
            asio::post(*st_->queries, [self = shared_from_this(), ex = stream_.get_executor(), work = std::move(res.later), keep_alive] {
                response r;
                work(r);
                asio::post(ex, [self, r = std::move(r), keep_alive]() mutable { self->send(std::move(r), keep_alive); });
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
            VIGIL_LOG_LIMITED(warn, "http: WebSocket to {} from origin '{}' refused (not in allowed_origins): 403", path, o);
            send({403, error_json(403, fmt::format("this Origin may not open {}", path))}, false);
            return;
        }
        const bool ws = boost::beast::websocket::is_upgrade(req);
        if (path == "/ws") {
            if (st_->up.push == nullptr || !ws) {
                send({426, error_json(426, "/ws speaks WebSocket (JSON push protocol v1): send an Upgrade request")}, false);
                return;
            }
            timer_.cancel();
            start_push_session(std::move(stream_), parser_->release(), *st_->up.push, std::move(token), st_->live, std::move(ticket_));
            return;
        }
        if (!st_->up.mqtt || !ws) {
            send({426, error_json(426, "/mqtt speaks MQTT over WebSocket: send an Upgrade request with subprotocol \"mqtt\"")}, false);
            return;
        }
        if (!offers_subprotocol(req, "mqtt")) {
            send({400, error_json(400, "/mqtt needs the WebSocket subprotocol \"mqtt\" (MQTT 3.1.1)")}, false);
            return;
        }
        timer_.cancel();
        const auto extra = buffer_.data();
        std::vector<std::uint8_t> pending(static_cast<const std::uint8_t*>(extra.data()), static_cast<const std::uint8_t*>(extra.data()) + extra.size());
        start_mqtt_upgrade(std::move(stream_), parser_->release(), std::move(pending), st_->up.mqtt, allow_anonymous_, std::move(ticket_));
    }

    void send(response r, bool keep_alive) {
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), 11);
        res->set(bhttp::field::server, "vigil");
        res->set(bhttp::field::content_type, r.content_type);
        res->set(bhttp::field::cache_control, "no-store");
        res->keep_alive(keep_alive);
        res->body() = std::move(r.body);
        res->prepare_payload();
        arm_timeout();
        bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
            if (ec || !keep_alive) {
                self->close();
                return;
            }
            self->read();
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
    net::connection_gate::ticket ticket_;  // handed on with the stream on an upgrade
};

/// One shard's acceptor for one listener. Thread safety: shard-affine.
class acceptor : public std::enable_shared_from_this<acceptor> {
public:
    /// `rate`: this shard's share of the listener's max_connection_rate (0 = unlimited).
    acceptor(tcp::acceptor a, std::shared_ptr<const shared_state> st, bool allow_anonymous, double rate, std::shared_ptr<const net::tls_context> tls)
        : acc_(std::move(a)),
          retry_(acc_.get_executor()),
          st_(std::move(st)),
          allow_anonymous_(allow_anonymous),
          bucket_(rate, rate),
          tls_(std::move(tls)) {}

    /// A reloaded certificate applies to connections accepted from now on.
    void set_tls(std::shared_ptr<const net::tls_context> tls) { tls_ = std::move(tls); }

    void start() {
        acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) { self->on_accept(ec, std::move(s)); });
    }

    void stop() {
        beast::error_code ignored;
        acc_.close(ignored);
        retry_.cancel();
    }

private:
    void on_accept(beast::error_code ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted || !acc_.is_open()) {
            return;
        }
        if (ec) {
            // Out of descriptors (EMFILE) under a flood: back off instead of spinning on accept.
            VIGIL_LOG_LIMITED(warn, "http: accept failed: {}; retrying in 50 ms", ec.message());
            retry_.expires_after(std::chrono::milliseconds{50});
            retry_.async_wait([self = shared_from_this()](beast::error_code tec) {
                if (!tec) {
                    self->start();
                }
            });
            return;
        }
        net::connection_gate::ticket ticket;
        if (const std::string why = admit(s, ticket); !why.empty()) {
            VIGIL_LOG_LIMITED(warn, "http: refusing new connections: {}", why);
            beast::error_code ignored;
            s.close(ignored);
        } else {
            beast::error_code ignored;
            s.set_option(tcp::no_delay(true), ignored);
            // Whatever fails for this one connection, the listener goes on accepting.
            try {
                std::make_shared<session>(stream{std::move(s), tls_}, st_, allow_anonymous_, std::move(ticket))->start();
            } catch (const std::exception& e) {
                VIGIL_LOG_LIMITED(error, "http: cannot serve a new connection: {}; the listener goes on", e.what());
            }
        }
        start();
    }

    /// Why `s` may not be served, or "" with its place in `ticket`.
    std::string admit(const tcp::socket& s, net::connection_gate::ticket& ticket) {
        if (!bucket_.try_take(std::chrono::steady_clock::now())) {
            return "over the listener's max_connection_rate";
        }
        if (st_->gate == nullptr) {
            return {};
        }
        beast::error_code ec;
        const auto remote = s.remote_endpoint(ec);
        net::connection_gate::refusal why{};
        auto t = st_->gate->admit(ec ? std::string{} : remote.address().to_string(), why);
        if (!t) {
            return st_->gate->describe(why);
        }
        ticket = std::move(*t);
        return {};
    }

    tcp::acceptor acc_;
    asio::steady_timer retry_;
    std::shared_ptr<const shared_state> st_;
    bool allow_anonymous_;
    token_bucket bucket_;
    std::shared_ptr<const net::tls_context> tls_;
};

}  // namespace

struct server::impl {
    net::shard_pool& pool;
    std::vector<config::http_listener_settings> settings;
    std::shared_ptr<shared_state> st;
    std::vector<std::shared_ptr<acceptor>> acceptors;
    std::vector<asio::io_context*> contexts;  // of each acceptor
    std::vector<std::size_t> listener_of;     // of each acceptor
    std::vector<bound_listener> bound;
    std::unique_ptr<asio::thread_pool> queries = std::make_unique<asio::thread_pool>(1);
};

server::server(net::shard_pool& pool, std::vector<config::http_listener_settings> listeners, handler h, upgrades up, access acc)
    : impl_(std::make_unique<impl>(impl{pool, std::move(listeners), std::make_shared<shared_state>(), {}, {}, {}, {}})) {
    impl_->st->h = std::move(h);
    impl_->st->up = std::move(up);
    impl_->st->allowed_origins = std::move(acc.allowed_origins);
    impl_->st->tokens.set(std::move(acc.tokens));
    impl_->st->gate = acc.gate;
    impl_->st->live = std::make_shared<live_connections>(pool.size());
    impl_->st->queries = impl_->queries.get();
}

server::~server() {
    impl_->queries->join();  // a query still running finishes; its answer is not sent
}

void server::start() {
    for (std::size_t li = 0; li < impl_->settings.size(); ++li) {
        const auto& l = impl_->settings[li];
        std::shared_ptr<const net::tls_context> tls;
        if (l.tls) {
            tls = net::tls_context::make(*l.tls);
        }
        std::uint16_t port = l.port;
        for (unsigned i = 0; i < impl_->pool.size(); ++i) {
            auto& ioc = impl_->pool.context(i);
            beast::error_code ec;
            tcp::acceptor a = net::listen_shared(ioc, {asio::ip::make_address(l.bind), port}, asio::socket_base::max_listen_connections, ec);
            if (ec) {
                throw std::system_error(ec, fmt::format("cannot listen for HTTP on {}:{}", l.bind, port));
            }
            port = a.local_endpoint().port();
            const double rate = l.max_connection_rate == 0 ? 0.0 : std::max(1.0, double(l.max_connection_rate) / double(impl_->pool.size()));
            impl_->acceptors.push_back(std::make_shared<acceptor>(std::move(a), impl_->st, l.allow_anonymous, rate, tls));
            impl_->contexts.push_back(&ioc);
            impl_->listener_of.push_back(li);
        }
        impl_->bound.push_back({l.bind, port, tls != nullptr});
        log::info("listening for HTTP{} on {}:{} (/healthz, /api/v1/devices, /api/v1/history, /ws, /mqtt)", tls ? "S" : "", l.bind, port);
    }
    for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) {
        asio::post(*impl_->contexts[i], [a = impl_->acceptors[i]] { a->start(); });
    }
}

const std::vector<bound_listener>& server::listeners() const noexcept { return impl_->bound; }

void server::set_tokens(std::shared_ptr<const auth::token_file> tokens) {
    impl_->st->tokens.set(tokens);
    // Dashboards holding a token that was removed or changed are closed.
    for (unsigned i = 0; i < impl_->pool.size(); ++i) {
        asio::post(impl_->pool.context(i), [live = impl_->st->live, i, tokens] { live->tokens_changed(i, tokens); });
    }
}

void server::reload_tls() {
    std::vector<std::shared_ptr<const net::tls_context>> fresh(impl_->settings.size());
    for (std::size_t li = 0; li < impl_->settings.size(); ++li) {
        if (const auto& t = impl_->settings[li].tls) {
            fresh[li] = net::tls_context::make(*t);  // all load before any changes
        }
    }
    for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) {
        if (auto tls = fresh[impl_->listener_of[i]]) {
            asio::post(*impl_->contexts[i], [a = impl_->acceptors[i], tls] { a->set_tls(tls); });
        }
    }
}

void server::stop() {
    for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) {
        asio::post(*impl_->contexts[i], [a = impl_->acceptors[i]] { a->stop(); });
    }
    // Keep-alive clients and dashboards are closed now (1001 for WebSockets), so the shards
    // need not wait out the grace period for them.
    for (unsigned i = 0; i < impl_->pool.size(); ++i) {
        asio::post(impl_->pool.context(i), [live = impl_->st->live, i] { live->close_all(i); });
    }
    impl_->queries->stop();  // queries not yet started are dropped with their connections
}

}  // namespace vigil::http
