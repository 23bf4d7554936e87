// The HTTP listeners: one acceptor per listener on every shard (admission, accept rate, back-off
// at the descriptor limit), handing each connection to a session (session.cpp).
#include <vigil/http/server.hpp>

#include <vigil/core/error.hpp>
#include <vigil/core/log.hpp>
#include <vigil/core/token_bucket.hpp>
#include <vigil/net/listen.hpp>
#include <vigil/net/shard_pool.hpp>

#include "session.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <system_error>

namespace vigil::http {
namespace {

using tcp = asio::ip::tcp;

/// One shard's acceptor for one listener. Thread safety: shard-affine.
class acceptor : public std::enable_shared_from_this<acceptor> {
public:
    /// `rate`: this shard's share of the listener's max_connection_rate (0 = unlimited).
    acceptor(tcp::acceptor a, std::shared_ptr<const shared_state> st, bool allow_anonymous, double rate,
             std::shared_ptr<const net::tls_context> tls)
        : acc_(std::move(a)),
          retry_(acc_.get_executor()),
          st_(std::move(st)),
          allow_anonymous_(allow_anonymous),
          bucket_(rate, rate),
          tls_(std::move(tls)) {}

    /// A reloaded certificate applies to connections accepted from now on.
    void set_tls(std::shared_ptr<const net::tls_context> tls) { tls_ = std::move(tls); }

    void start() {
        acc_.async_accept(
            [self = shared_from_this()](error_code ec, tcp::socket s) { self->on_accept(ec, std::move(s)); });
    }

    void stop() {
        error_code ignored;
        acc_.close(ignored);
        retry_.cancel();
    }

private:
    void on_accept(error_code ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted || !acc_.is_open()) {
            return;
        }
        if (ec) {
            // Out of descriptors (EMFILE) under a flood: back off instead of spinning on accept.
            VIGIL_LOG_LIMITED(warn, "http: accept failed: {}; retrying in 50 ms", ec.message());
            retry_.expires_after(std::chrono::milliseconds{50});
            retry_.async_wait([self = shared_from_this()](error_code tec) {
                if (!tec) {
                    self->start();
                }
            });
            return;
        }
        net::connection_gate::ticket ticket;
        if (const std::string why = admit(s, ticket); !why.empty()) {
            VIGIL_LOG_LIMITED(warn, "http: refusing new connections: {}", why);
            error_code ignored;
            s.close(ignored);
        } else {
            error_code ignored;
            s.set_option(tcp::no_delay(true), ignored);
            // Whatever fails for this one connection, the listener goes on accepting.
            try {
                start_session(stream{std::move(s), tls_}, st_, allow_anonymous_, std::move(ticket));
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
        error_code ec;
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

server::server(net::shard_pool& pool, std::vector<config::http_listener_settings> listeners, handler h, upgrades up,
               access acc)
    : impl_(
          std::make_unique<impl>(impl{pool, std::move(listeners), std::make_shared<shared_state>(), {}, {}, {}, {}})) {
    impl_->st->h = std::move(h);
    impl_->st->up = std::move(up);
    impl_->st->allowed_origins = std::move(acc.allowed_origins);
    impl_->st->tokens.set(std::move(acc.tokens));
    impl_->st->gate = acc.gate;
    impl_->st->console = std::move(acc.console);
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
        if (const auto ec = net::check_unclaimed(impl_->pool.context(0), {asio::ip::make_address(l.bind), port})) {
            throw std::system_error(
                ec, fmt::format("cannot listen for HTTP on {}:{}: {}", l.bind, port, net::claimed_advice(ec)));
        }
        for (unsigned i = 0; i < impl_->pool.size(); ++i) {
            auto& ioc = impl_->pool.context(i);
            error_code ec;
            tcp::acceptor a = net::listen_shared(ioc, {asio::ip::make_address(l.bind), port},
                                                 asio::socket_base::max_listen_connections, ec);
            if (ec) {
                throw std::system_error(ec, fmt::format("cannot listen for HTTP on {}:{}", l.bind, port));
            }
            port = a.local_endpoint().port();
            const double rate = l.max_connection_rate == 0
                                    ? 0.0
                                    : std::max(1.0, double(l.max_connection_rate) / double(impl_->pool.size()));
            impl_->acceptors.push_back(
                std::make_shared<acceptor>(std::move(a), impl_->st, l.allow_anonymous, rate, tls));
            impl_->contexts.push_back(&ioc);
            impl_->listener_of.push_back(li);
        }
        impl_->bound.push_back({l.bind, port, tls != nullptr});
        log::info("listening for HTTP{} on {}:{} ({}/healthz, /api/v1/devices, /api/v1/history, /ws, /mqtt)",
                  tls ? "S" : "", l.bind, port, impl_->st->console ? "the console at /, " : "");
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

std::shared_ptr<const auth::token_file> server::tokens() const { return impl_->st->tokens.get(); }

server_counters server::counters() const {
    const auto& c = impl_->st->counters;
    server_counters out;
    for (std::size_t i = 0; i < out.responses.size(); ++i) {
        out.responses[i] = c.responses[i].load(std::memory_order_relaxed);
    }
    out.tls_handshakes = c.tls_handshakes.load(std::memory_order_relaxed);
    out.tls_failures = c.tls_failures.load(std::memory_order_relaxed);
    return out;
}

void server::reload_tls(const std::vector<config::http_listener_settings>& next) {
    std::vector<std::shared_ptr<const net::tls_context>> fresh(impl_->settings.size());
    for (std::size_t li = 0; li < impl_->settings.size() && li < next.size(); ++li) {
        if (const auto& t = next[li].tls) {
            fresh[li] = net::tls_context::make(*t);  // all load before any changes
        }
    }
    for (std::size_t li = 0; li < impl_->settings.size() && li < next.size(); ++li) {
        impl_->settings[li].tls = next[li].tls;
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
