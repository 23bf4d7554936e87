#pragma once
// One JSON push WebSocket connection (/ws, protocol v1; see docs/push-protocol.md).

#include <vigil/auth/tokens.hpp>
#include <vigil/net/gate.hpp>
#include <vigil/router/hub.hpp>

#include "live.hpp"
#include "stream.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>

namespace vigil::http {

/// Takes over `s` whose HTTP request `req` asked for a WebSocket on /ws, and serves it on the
/// current shard until it closes. `token` (null: no tokens configured) limits what it may
/// subscribe to and publish. It is registered in `live` while open.
/// A `since` subscribe reads the history on `queries`.
void start_push_session(stream s, boost::beast::http::request<boost::beast::http::string_body> req, router::hub& hub,
                        boost::asio::thread_pool& queries, std::shared_ptr<const auth::api_token> token,
                        std::shared_ptr<live_connections> live, net::connection_gate::ticket ticket, std::string peer);

}  // namespace vigil::http
