#include <vigil/net/listen.hpp>

#include <sys/socket.h>

namespace vigil::net {

boost::system::error_code check_unclaimed(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& ep) {
    boost::system::error_code ec;
    if (ep.port() == 0) {
        return ec;
    }
    boost::asio::ip::tcp::acceptor probe(ioc);
    probe.open(ep.protocol(), ec);
    if (!ec) {
        probe.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec) {
        probe.bind(ep, ec);
    }
    boost::system::error_code ignored;
    probe.close(ignored);
    return ec;
}

const char* claimed_advice(const boost::system::error_code& ec) noexcept {
    return ec == boost::asio::error::address_in_use
               ? "another process already listens there (another vigil with this port and another data_dir would "
                 "silently take part of the connections): stop it, or give this one other ports"
               : "check the address (it must be one of this host's)";
}

boost::asio::ip::tcp::acceptor listen_shared(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& ep,
                                             int backlog, boost::system::error_code& ec) {
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
