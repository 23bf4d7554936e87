#include "ws_client.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>

namespace vigil::bench {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

struct ws_client::impl {
    websocket::stream<tcp::socket> ws;
    tcp::endpoint ep;
    observations* obs;
    std::vector<std::uint32_t> last_seq;
    beast::flat_buffer rx;
    std::string filter;
    std::string sub_text;
    std::function<void()> ready;
    simdjson::dom::parser parser;

    impl(asio::io_context& ioc, tcp::endpoint e, observations* o, std::size_t publishers)
        : ws(ioc), ep(e), obs(o), last_seq(publishers, 0) {}
};

namespace {

void on_object(ws_client::impl& im, std::string_view text) {
    simdjson::dom::element f;
    if (im.parser.parse(text.data(), text.size()).get(f) != simdjson::SUCCESS) {
        return;
    }
    std::string_view op;
    if (f["op"].get(op) != simdjson::SUCCESS) {
        return;
    }
    if (op == "snapshot" && im.ready) {
        auto r = std::move(im.ready);
        r();
        return;
    }
    std::int64_t t = 0;
    std::uint64_t p = 0;
    std::uint64_t s = 0;
    auto payload = f["payload"];
    if (op != "message" || im.obs == nullptr || payload["t"].get(t) != simdjson::SUCCESS ||
        payload["p"].get(p) != simdjson::SUCCESS || payload["s"].get(s) != simdjson::SUCCESS) {
        return;
    }
    im.obs->latency_us.push_back(static_cast<std::uint32_t>((now_ns() - t) / 1000));
    ++im.obs->received;
    if (p < im.last_seq.size()) {
        if (s <= im.last_seq[p]) {
            ++im.obs->out_of_order;
        }
        im.last_seq[p] = static_cast<std::uint32_t>(s);
    }
}

}  // namespace

ws_client::ws_client(asio::io_context& ioc, tcp::endpoint ep, observations* obs, std::size_t publishers)
    : impl_(std::make_unique<impl>(ioc, ep, obs, publishers)) {}

ws_client::~ws_client() = default;

void ws_client::start(const std::string& filter, std::function<void()> done) {
    impl_->filter = filter;
    impl_->ready = std::move(done);
    auto fail = [](const char* what, const boost::system::error_code& ec) {
        std::fprintf(stderr, "ws %s: %s\n", what, ec.message().c_str());
        std::exit(1);
    };
    impl_->ws.next_layer().async_connect(impl_->ep, [self = shared_from_this(), fail](boost::system::error_code ec) {
        if (ec) {
            fail("connect", ec);
        }
        self->impl_->ws.next_layer().set_option(tcp::no_delay(true));
        self->impl_->ws.async_handshake("127.0.0.1", "/ws", [self, fail](boost::system::error_code hec) {
            if (hec) {
                fail("handshake", hec);
            }
            self->impl_->sub_text = R"({"op":"subscribe","id":"bench","filters":[")" + self->impl_->filter + R"("]})";
            self->impl_->ws.async_write(asio::buffer(self->impl_->sub_text), [self](boost::system::error_code, std::size_t) {});
            auto reader = std::make_shared<std::function<void()>>();
            *reader = [self, reader] {
                self->impl_->ws.async_read(self->impl_->rx, [self, reader](boost::system::error_code rec, std::size_t) {
                    if (rec) {
                        return;
                    }
                    auto& im = *self->impl_;
                    const std::string frame = beast::buffers_to_string(im.rx.data());
                    im.rx.consume(im.rx.size());
                    std::size_t pos = 0;
                    while (pos < frame.size()) {  // one JSON object per line
                        const std::size_t nl = std::min(frame.find('\n', pos), frame.size());
                        on_object(im, std::string_view{frame.data() + pos, nl - pos});
                        pos = nl + 1;
                    }
                    (*reader)();
                });
            };
            (*reader)();
        });
    });
}

void ws_client::close() {
    boost::system::error_code ignored;
    impl_->ws.next_layer().close(ignored);
}

}  // namespace vigil::bench
