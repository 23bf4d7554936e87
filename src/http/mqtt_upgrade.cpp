#include "mqtt_upgrade.hpp"

#include <vigil/core/log.hpp>
#include <vigil/net/handover.hpp>

#include <boost/beast/websocket/stream.hpp>

#include <memory>

namespace vigil::http {
namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

/// Lives until the 101 is written. Thread safety: shard-affine.
class mqtt_upgrade : public std::enable_shared_from_this<mqtt_upgrade> {
public:
    mqtt_upgrade(stream s, std::vector<std::uint8_t> pending, const mqtt_adopter& adopt, bool allow_anonymous,
                 net::connection_gate::ticket ticket)
        : ws_(std::move(s)),
          pending_(std::move(pending)),
          adopt_(adopt),
          allow_anonymous_(allow_anonymous),
          ticket_(std::move(ticket)) {}

    void start(beast::http::request<beast::http::string_body> req) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(beast::http::field::server, "vigil");
            res.set(beast::http::field::sec_websocket_protocol, "mqtt");
        }));
        ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
    }

private:
    void on_accept(beast::error_code ec) {
        if (ec) {
            VIGIL_LOG_LIMITED(info, "http: /mqtt WebSocket handshake failed: {}", ec.message());
            return;
        }
        auto r = ws_.next_layer().release();
        if (r.fd < 0) {
            return;
        }
        // Bytes the client sent right behind its request come before what the stream holds.
        pending_.insert(pending_.end(), r.pending.begin(), r.pending.end());
        adopt_(net::socket_handover{r.fd, r.v6, std::move(r.tls), std::move(pending_), allow_anonymous_,
                                    std::move(ticket_)});
    }

    websocket::stream<stream> ws_;
    std::vector<std::uint8_t> pending_;
    mqtt_adopter adopt_;
    bool allow_anonymous_;
    net::connection_gate::ticket ticket_;
};

}  // namespace

void start_mqtt_upgrade(stream s, beast::http::request<beast::http::string_body> req, std::vector<std::uint8_t> pending,
                        const mqtt_adopter& adopt, bool allow_anonymous, net::connection_gate::ticket ticket) {
    std::make_shared<mqtt_upgrade>(std::move(s), std::move(pending), adopt, allow_anonymous, std::move(ticket))
        ->start(std::move(req));
}

}  // namespace vigil::http
