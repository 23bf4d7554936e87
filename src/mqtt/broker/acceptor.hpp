#pragma once
// One shard's acceptor for one MQTT listener: the connection rate and bounds are applied
// before any handshake or allocation, and a failure to serve one connection never stops it.

#include "shard.hpp"

#include <vigil/core/token_bucket.hpp>
#include <vigil/net/tls.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string_view>

namespace vigil::mqtt {

using tcp = asio::ip::tcp;

/// Thread safety: shard-affine. Lifetime: owned by the broker and its pending accept.
class acceptor : public std::enable_shared_from_this<acceptor> {
public:
    /// `rate` is this shard's share of the listener's max_connection_rate (0 = unlimited);
    /// `tls` is null on a plain listener.
    acceptor(shard& s, int listener, tcp::acceptor a, bool allow_anonymous, double rate,
             std::shared_ptr<const net::tls_context> tls)
        : shard_(s),
          listener_(listener),
          acc_(std::move(a)),
          retry_(s.context()),
          allow_anonymous_(allow_anonymous),
          bucket_(rate, rate),
          tls_(std::move(tls)) {}

    /// A reloaded certificate applies to connections accepted from now on.
    void set_tls(std::shared_ptr<const net::tls_context> tls) { tls_ = std::move(tls); }
    [[nodiscard]] bool is_tls() const noexcept { return tls_ != nullptr; }

    void start() { do_accept(); }
    [[nodiscard]] asio::io_context& shard_context() noexcept { return shard_.context(); }
    void stop() {
        error_code ignored;
        acc_.close(ignored);
        retry_.cancel();
    }

private:
    void do_accept();
    void on_accept(error_code ec, tcp::socket s);
    /// Closes `s` at once (counted, logged as `why`) and accepts the next.
    void refuse(tcp::socket& s, std::string_view why);

    shard& shard_;
    int listener_;  // its place in broker::listeners()
    tcp::acceptor acc_;
    asio::steady_timer retry_;
    bool allow_anonymous_;
    token_bucket bucket_;
    std::shared_ptr<const net::tls_context> tls_;
};

}  // namespace vigil::mqtt
