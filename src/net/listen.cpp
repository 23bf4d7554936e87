#include <vigil/net/listen.hpp>

#include <sys/socket.h>

namespace vigil::net {

boost::asio::ip::tcp::acceptor listen_shared(
    boost::asio::io_context& ioc,
    const boost::asio::ip::tcp::endpoint& ep,
    int backlog,
    boost::system::error_code& ec
) {
    using tcp = boost::asio::ip::tcp;
    using reuse_port = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
    tcp::acceptor a(ioc);
    ec.clear();
    a.open(ep.protocol(), ec);
    if (!ec) {
        a.set_option(tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec) {
        a.set_option(reuse_port(true), ec);
    }
    if (!ec) {
        a.bind(ep, ec);
    }
    if (!ec) {
        a.listen(backlog, ec);
    }
    if (ec) {
        boost::system::error_code ignored;
        a.close(ignored);
    }
    return a;
}

}  // namespace vigil::net
