#pragma once
/// Listening sockets that every shard opens on the same port (SO_REUSEPORT): the kernel then
/// spreads new connections among the shards.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace vigil::net {

/// An acceptor on `ep` with SO_REUSEADDR and SO_REUSEPORT, listening with `backlog`.
/// Errors: returns a closed acceptor and sets `ec` (the address is in use, not local, ...).
[[nodiscard]] boost::asio::ip::tcp::acceptor listen_shared(
    boost::asio::io_context& ioc,
    const boost::asio::ip::tcp::endpoint& ep,
    int backlog,
    boost::system::error_code& ec
);

}  // namespace vigil::net
