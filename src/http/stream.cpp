#include "stream.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <algorithm>
#include <cstring>
#include <deque>

namespace vigil::http {

using error_code = boost::system::error_code;
using tcp = asio::ip::tcp;

/// Shared with the stream's own socket operations, so a handshake record still being written
/// never outlives what it writes from.
struct stream::state {
    state(tcp::socket s, std::shared_ptr<const net::tls_context> ctx) : sock(std::move(s)) {
        if (ctx) {
            tls = std::make_unique<net::tls_session>(std::move(ctx));
        }
    }

    /// A write waiting for the ciphertext up to `upto` to reach the socket.
    struct waiter {
        std::uint64_t upto;
        std::size_t n;  // plaintext bytes it reports
        handler_type h;
    };

    tcp::socket sock;
    std::unique_ptr<net::tls_session> tls;
    std::vector<std::uint8_t> cipher_in = std::vector<std::uint8_t>(16 * 1024);
    std::vector<std::uint8_t> plain;  // decrypted, from plain_at on not yet read
    std::size_t plain_at = 0;
    error_code read_failed;             // a TLS failure behind the plaintext still buffered
    std::vector<std::uint8_t> out;      // ciphertext waiting for the writer
    std::vector<std::uint8_t> writing;  // the write in progress
    bool busy = false;
    std::uint64_t produced = 0;  // ciphertext bytes queued, ever
    std::uint64_t flushed = 0;   // of them, written
    std::deque<waiter> waiters;
    error_code write_failed;

    void collect() {
        const std::size_t before = out.size();
        tls->take_output(out);
        produced += out.size() - before;
    }

    std::size_t copy_plain(asio::mutable_buffer b) {
        const std::size_t n = std::min(b.size(), plain.size() - plain_at);
        std::memcpy(b.data(), plain.data() + plain_at, n);
        plain_at += n;
        return n;
    }
};

namespace {

void post_completion(stream::executor_type ex, stream::handler_type h, error_code ec, std::size_t n) {
    asio::post(ex, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); });
}

void pump_writes(const std::shared_ptr<stream::state>& st) {
    if (st->busy || st->out.empty() || st->write_failed) {
        return;
    }
    st->writing.swap(st->out);
    st->out.clear();
    st->busy = true;
    asio::async_write(st->sock, asio::buffer(st->writing), [st](error_code ec, std::size_t n) {
        st->busy = false;
        if (ec) {
            st->write_failed = ec;
            auto waiting = std::move(st->waiters);
            st->waiters.clear();
            for (auto& w : waiting) {
                std::move(w.h)(ec, 0);
            }
            return;
        }
        st->flushed += n;
        while (!st->waiters.empty() && st->waiters.front().upto <= st->flushed) {
            auto w = std::move(st->waiters.front());
            st->waiters.pop_front();
            std::move(w.h)(error_code{}, w.n);
        }
        pump_writes(st);
    });
}

void read_more(const std::shared_ptr<stream::state>& st, asio::mutable_buffer b, stream::handler_type h) {
    st->sock.async_read_some(asio::buffer(st->cipher_in),
                             [st, b, h = std::move(h)](error_code ec, std::size_t n) mutable {
                                 if (ec) {
                                     std::move(h)(ec, 0);
                                     return;
                                 }
                                 st->tls->feed({st->cipher_in.data(), n});
                                 st->plain.clear();
                                 st->plain_at = 0;
                                 st->read_failed = st->tls->pump(st->plain);
                                 st->collect();  // handshake flights, session tickets, alerts
                                 pump_writes(st);
                                 if (st->plain.empty()) {
                                     if (st->read_failed) {
                                         std::move(h)(st->read_failed, 0);
                                         return;
                                     }
                                     read_more(st, b, std::move(h));
                                     return;
                                 }
                                 const std::size_t got = st->copy_plain(b);
                                 std::move(h)(error_code{}, got);
                             });
}

}  // namespace

stream::stream(tcp::socket s, std::shared_ptr<const net::tls_context> tls)
    : st_(std::make_shared<state>(std::move(s), std::move(tls))) {}

stream::~stream() {
    if (st_) {
        close();  // ends the stream's own pending writes too
    }
}

stream::stream(stream&&) noexcept = default;

stream::executor_type stream::get_executor() noexcept { return st_->sock.get_executor(); }

tcp::socket& stream::socket() noexcept { return st_->sock; }

bool stream::is_tls() const noexcept { return st_->tls != nullptr; }

bool stream::tls_established() const noexcept { return st_->tls && st_->tls->established(); }

std::string stream::tls_failure() const { return st_->tls ? st_->tls->failure_reason() : std::string{}; }

void stream::close() noexcept {
    error_code ignored;
    st_->sock.close(ignored);
}

void stream::read_tls(asio::mutable_buffer b, handler_type h) {
    if (b.size() == 0 || st_->plain_at < st_->plain.size()) {
        const std::size_t n = st_->copy_plain(b);
        post_completion(get_executor(), std::move(h), {}, n);
        return;
    }
    if (st_->read_failed) {
        post_completion(get_executor(), std::move(h), st_->read_failed, 0);
        return;
    }
    read_more(st_, b, std::move(h));
}

error_code stream::encrypt(std::span<const std::uint8_t> plain) { return st_->tls->write(plain); }

void stream::write_tls(error_code ec, std::size_t n, handler_type h) {
    if (!ec) {
        ec = st_->write_failed;
    }
    if (ec || n == 0) {
        post_completion(get_executor(), std::move(h), ec, 0);
        return;
    }
    st_->collect();
    st_->waiters.push_back({st_->produced, n, std::move(h)});
    pump_writes(st_);
}

namespace {
/// Beast's TCP teardown, completing `h` (type-erased handlers carry no executor Beast can post
/// to, so the socket's is bound).
void tcp_teardown(boost::beast::role_type role, tcp::socket& sock, stream::teardown_handler h) {
    boost::beast::websocket::async_teardown(
        role, sock,
        asio::bind_executor(sock.get_executor(), [h = std::move(h)](error_code ec) mutable { std::move(h)(ec); }));
}
}  // namespace

void stream::async_teardown(boost::beast::role_type role, teardown_handler h) {
    if (!is_tls()) {
        tcp_teardown(role, st_->sock, std::move(h));
        return;
    }
    st_->tls->shutdown();  // close_notify, then the TCP teardown once it is written
    st_->collect();
    auto st = st_;
    st_->waiters.push_back(
        {st_->produced, 0, handler_type([st, role, h = std::move(h)](error_code ec, std::size_t) mutable {
             if (ec) {
                 std::move(h)(ec);
                 return;
             }
             tcp_teardown(role, st->sock, std::move(h));
         })});
    if (st_->busy || !st_->out.empty()) {
        pump_writes(st_);
        return;
    }
    // Nothing to write (the session was already shut down): finish from the queue.
    auto w = std::move(st_->waiters.back());
    st_->waiters.pop_back();
    post_completion(get_executor(), std::move(w.h), {}, 0);
}

stream::released stream::release() {
    released r;
    if (st_->busy) {
        return r;  // fd -1: the caller closes
    }
    error_code ec;
    if (st_->tls && !st_->out.empty()) {
        asio::write(st_->sock, asio::buffer(st_->out), ec);  // a few bytes: the socket takes them
        st_->out.clear();
    }
    r.v6 = st_->sock.local_endpoint(ec).address().is_v6();
    r.fd = st_->sock.release(ec);
    if (ec) {
        r.fd = -1;
        return r;
    }
    r.tls = std::move(st_->tls);
    r.pending.assign(st_->plain.begin() + static_cast<std::ptrdiff_t>(st_->plain_at), st_->plain.end());
    return r;
}

void beast_close_socket(stream& s) { s.close(); }

}  // namespace vigil::http
