#include "request_token.hpp"

#include <vigil/core/text.hpp>

#include <algorithm>

namespace vigil::http {
namespace {

namespace bhttp = boost::beast::http;

/// Calls `f` with each WebSocket subprotocol the request offers, until `f` returns true.
template <class F>
void for_each_subprotocol(const bhttp::request<bhttp::string_body>& req, F&& f) {
    const auto proto = req[bhttp::field::sec_websocket_protocol];
    for (const std::string_view item : split_commas({proto.data(), proto.size()})) {
        if (f(trim_spaces(item))) {
            return;
        }
    }
}

}  // namespace

bool offers_subprotocol(const bhttp::request<bhttp::string_body>& req, std::string_view name) {
    bool found = false;
    for_each_subprotocol(req, [&](std::string_view item) { return found = item == name; });
    return found;
}

std::string_view token_of(const bhttp::request<bhttp::string_body>& req) {
    const auto auth = req[bhttp::field::authorization];
    const std::string_view a{auth.data(), auth.size()};
    if (a.starts_with("Bearer ")) {
        return a.substr(7);
    }
    const std::string_view target{req.target().data(), req.target().size()};
    const auto q = target.find('?');
    if (q != std::string_view::npos) {
        std::string_view query = target.substr(q + 1);
        while (!query.empty()) {
            const auto amp = std::min(query.find('&'), query.size());
            const std::string_view kv = query.substr(0, amp);
            if (kv.starts_with("access_token=")) {
                return kv.substr(13);
            }
            query.remove_prefix(std::min(amp + 1, query.size()));
        }
    }
    std::string_view token;
    for_each_subprotocol(req, [&token](std::string_view item) {
        if (item.starts_with("token.")) {
            token = item.substr(6);
            return true;
        }
        return false;
    });
    return token;
}

}  // namespace vigil::http
