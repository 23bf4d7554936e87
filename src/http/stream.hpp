#pragma once
// The byte stream under HTTP and WebSocket: a TCP socket, optionally with TLS.
//
// Design note. TLS here is the same sans-I/O session (OpenSSL over memory BIOs, net/tls.hpp)
// the MQTT listeners use, not asio::ssl::stream: a `/mqtt` upgrade hands the socket *and* its
// TLS state to the broker's MQTT connection, which moves between shards. One stream type for
// plain and TLS also keeps Beast's HTTP and WebSocket code compiled once. Plain streams pass
// straight through to the socket; a TLS stream decrypts on read and encrypts on write, with
// one writer for ciphertext (a read may have to send handshake records while a write waits).

#include <vigil/net/tls.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace vigil::http {

namespace asio = boost::asio;

/// Thread safety: shard-affine; one read and one write may be outstanding at a time.
class stream {
public:
    using executor_type = asio::ip::tcp::socket::executor_type;
    using handler_type = asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

    /// `tls` null: plain TCP.
    stream(asio::ip::tcp::socket s, std::shared_ptr<const net::tls_context> tls);
    ~stream();
    stream(stream&&) noexcept;
    stream& operator=(stream&&) = delete;
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    [[nodiscard]] executor_type get_executor() noexcept;
    /// False once moved from.
    [[nodiscard]] bool valid() const noexcept { return st_ != nullptr; }
    [[nodiscard]] asio::ip::tcp::socket& socket() noexcept;
    [[nodiscard]] bool is_tls() const noexcept;
    /// Why the TLS handshake failed (see net::tls_session::failure_reason); "" otherwise.
    [[nodiscard]] std::string tls_failure() const;
    /// TLS: the handshake completed.
    [[nodiscard]] bool tls_established() const noexcept;

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& bufs, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto done, const MutableBuffers& b) {
                if (!is_tls()) {
                    socket().async_read_some(b, std::move(done));
                    return;
                }
                for (auto it = asio::buffer_sequence_begin(b); it != asio::buffer_sequence_end(b); ++it) {
                    if (asio::mutable_buffer mb = *it; mb.size() > 0) {
                        read_tls(mb, handler_type(std::move(done)));
                        return;
                    }
                }
                read_tls({}, handler_type(std::move(done)));
            },
            token, bufs);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& bufs, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto done, const ConstBuffers& b) {
                if (!is_tls()) {
                    socket().async_write_some(b, std::move(done));
                    return;
                }
                std::size_t n = 0;
                boost::system::error_code ec;
                for (auto it = asio::buffer_sequence_begin(b); it != asio::buffer_sequence_end(b) && !ec; ++it) {
                    const asio::const_buffer cb = *it;
                    ec = encrypt({static_cast<const std::uint8_t*>(cb.data()), cb.size()});
                    n += cb.size();
                }
                write_tls(ec, n, handler_type(std::move(done)));
            },
            token, bufs);
    }

    /// Closes the socket (cancels what is outstanding).
    void close() noexcept;

    using teardown_handler = asio::any_completion_handler<void(boost::system::error_code)>;
    /// Sends TLS close_notify (if TLS), then shuts the socket down as Beast's teardown does.
    void async_teardown(boost::beast::role_type role, teardown_handler h);

    /// What a `/mqtt` upgrade hands to the broker. Only valid with nothing outstanding.
    struct released {
        int fd = -1;
        bool v6 = false;
        std::unique_ptr<net::tls_session> tls;
        std::vector<std::uint8_t> pending;  ///< decrypted, not yet read
    };
    [[nodiscard]] released release();

    struct state;  ///< the socket and TLS state, shared with the stream's own operations

private:
    void read_tls(asio::mutable_buffer b, handler_type h);
    [[nodiscard]] boost::system::error_code encrypt(std::span<const std::uint8_t> plain);
    void write_tls(boost::system::error_code ec, std::size_t n, handler_type h);

    std::shared_ptr<state> st_;
};

/// Beast's customisation points for a WebSocket over this stream.
void beast_close_socket(stream& s);
template <class Handler>
void async_teardown(boost::beast::role_type role, stream& s, Handler&& h) {
    s.async_teardown(role, stream::teardown_handler(std::forward<Handler>(h)));
}

}  // namespace vigil::http
