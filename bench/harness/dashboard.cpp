#include "dashboard.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <charconv>

namespace vigil::bench {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

struct dashboard::impl {
    websocket::stream<tcp::socket> ws;
    tcp::endpoint ep;
    recipient* rcpt;
    beast::flat_buffer rx;
    std::string request;
    std::string token;
    std::string error;
    std::function<void(bool, std::uint32_t)> ready;
    std::int64_t start = 0;

    impl(asio::io_context& ioc, tcp::endpoint e, recipient* r, std::string t)
        : ws(ioc), ep(e), rcpt(r), token(std::move(t)) {}

    void fail(std::string why) {
        if (error.empty()) {
            error = std::move(why);
        }
        if (ready) {
            auto f = std::move(ready);
            f(false, 0);
        }
    }

    /// One JSON object of a frame (the server sends one per line).
    void on_object(std::string_view o) {
        if (o.starts_with(R"({"op":"snapshot")")) {
            if (ready && o.find(R"("last":true)") != std::string_view::npos) {
                auto f = std::move(ready);
                f(true, static_cast<std::uint32_t>((now_ns() - start) / 1000));
            }
            return;
        }
        if (!o.starts_with(R"({"op":"message")")) {
            return;
        }
        const auto at = o.find(R"("payload":)");
        stamp s;
        if (at == std::string_view::npos || !parse_stamp(o.substr(at + 10), s)) {
            return;
        }
        std::uint64_t conflated = 0;
        if (const auto c = o.find(R"("conflated":)"); c != std::string_view::npos) {
            std::from_chars(o.data() + c + 12, o.data() + o.size(), conflated);
        }
        rcpt->on_stamp(s, now_ns(), conflated);
    }
};

dashboard::dashboard(asio::io_context& ioc, tcp::endpoint ep, recipient* r, std::string token)
    : impl_(std::make_unique<impl>(ioc, ep, r, std::move(token))) {}

const std::string& dashboard::error() const noexcept { return impl_->error; }

dashboard::~dashboard() = default;

void dashboard::start(std::vector<std::string> filters, std::function<void(bool, std::uint32_t)> done) {
    auto& st = *impl_;
    st.ready = std::move(done);
    st.start = now_ns();
    st.request = R"({"op":"subscribe","id":"bench","filters":[)";
    for (std::size_t i = 0; i < filters.size(); ++i) {
        st.request += (i == 0 ? "\"" : ",\"") + filters[i] + "\"";
    }
    st.request += "]}";
    st.ws.next_layer().async_connect(st.ep, [self = shared_from_this()](boost::system::error_code ec) {
        auto& im = *self->impl_;
        if (ec) {
            im.fail("connect: " + ec.message());
            return;
        }
        boost::system::error_code ignored;
        im.ws.next_layer().set_option(tcp::no_delay(true), ignored);
        im.ws.set_option(websocket::stream_base::decorator([token = im.token](websocket::request_type& req) {
            // The token as a subprotocol: it stays out of URLs (and server logs).
            req.set(beast::http::field::sec_websocket_protocol,
                    token.empty() ? std::string{"vigil.v1"} : "vigil.v1, token." + token);
        }));
        im.ws.async_handshake(im.ep.address().to_string(), "/ws", [self](boost::system::error_code hec) {
            auto& d = *self->impl_;
            if (hec) {
                d.fail("WebSocket upgrade of /ws: " + hec.message());
                return;
            }
            d.ws.async_write(asio::buffer(d.request), [](boost::system::error_code, std::size_t) {});
            self->read();
        });
    });
}

void dashboard::read() {
    impl_->ws.async_read(impl_->rx, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
        auto& im = *self->impl_;
        if (ec) {
            im.fail("read: " + ec.message());
            return;
        }
        const auto data = im.rx.cdata();
        const std::string_view frame{static_cast<const char*>(data.data()), data.size()};
        std::size_t pos = 0;
        while (pos < frame.size()) {  // one JSON object per line
            const std::size_t nl = std::min(frame.find('\n', pos), frame.size());
            im.on_object(frame.substr(pos, nl - pos));
            pos = nl + 1;
        }
        im.rx.consume(im.rx.size());
        self->read();
    });
}

void dashboard::close() {
    boost::system::error_code ignored;
    impl_->ws.next_layer().close(ignored);
}

}  // namespace vigil::bench
