#include "acceptor.hpp"

#include "connection.hpp"

#include <vigil/core/log.hpp>

namespace vigil::mqtt {

void acceptor::do_accept() {
    acc_.async_accept(shard_.context(),
                      [self = shared_from_this()](error_code ec, tcp::socket s) { self->on_accept(ec, std::move(s)); });
}

void acceptor::on_accept(error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acc_.is_open()) {
        return;
    }
    if (ec) {
        // Typically EMFILE under a connection flood: back off briefly instead of spinning.
        VIGIL_LOG_LIMITED(warn, "accept failed: {}; retrying in 50 ms", ec.message());
        retry_.expires_after(std::chrono::milliseconds{50});
        retry_.async_wait([self = shared_from_this()](error_code tec) {
            if (!tec) {
                self->do_accept();
            }
        });
        return;
    }
    // Refused before any handshake or allocation: a storm costs an accept and a close.
    connection::transfer t;
    if (!bucket_.try_take(std::chrono::steady_clock::now())) {
        refuse(s, "over the listener's max_connection_rate");
        return;
    }
    error_code aec;
    const auto remote = s.remote_endpoint(aec);
    net::connection_gate::refusal why{};
    auto ticket = shard_.core().gate->admit(aec ? std::string{} : remote.address().to_string(), why);
    if (!ticket) {
        refuse(s, shard_.core().gate->describe(why));
        return;
    }
    t.ticket = std::move(*ticket);
    t.listener = listener_;
    error_code opt_ec;
    s.set_option(tcp::no_delay(true), opt_ec);
    // Whatever fails for this one connection (a TLS session that cannot be created), the
    // listener goes on accepting.
    try {
        if (tls_) {
            t.tls = std::make_unique<net::tls_session>(tls_);
        }
        std::make_shared<connection>(shard_, std::move(s), allow_anonymous_, std::move(t))->start();
    } catch (const std::exception& e) {
        VIGIL_LOG_LIMITED(error, "cannot serve a new connection: {}; the listener goes on", e.what());
    }
    do_accept();
}

void acceptor::refuse(tcp::socket& s, std::string_view why) {
    ++shard_.counters().rejected_connections;
    VIGIL_LOG_LIMITED(warn, "refusing new connections: {}", why);
    error_code ignored;
    s.close(ignored);
    do_accept();
}

}  // namespace vigil::mqtt
