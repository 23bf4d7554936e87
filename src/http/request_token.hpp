#pragma once
// What an HTTP request says about who sends it: its API token and its WebSocket subprotocols.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace vigil::http {

/// True when the request offers WebSocket subprotocol `name`.
[[nodiscard]] bool offers_subprotocol(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                      std::string_view name);

/// The API token a request carries: `Authorization: Bearer T`, `?access_token=T`, or (for
/// browsers opening a WebSocket, which cannot set headers) a `token.T` subprotocol. A view
/// into the request.
[[nodiscard]] std::string_view token_of(const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace vigil::http
