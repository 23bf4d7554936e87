#pragma once
/// Listening sockets that every shard opens on the same port (SO_REUSEPORT): the kernel then
/// spreads new connections among the shards. SO_REUSEPORT would let a second process of the
/// same user share the port and take part of the connections, so a port is checked first.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace vigil::net {

/// Whether another socket (another process, with SO_REUSEPORT or not) listens on `ep` or on an
/// address that overlaps it: a socket without SO_REUSEPORT is bound there and closed. Port 0
/// is always free. Connections in TIME_WAIT (a restart) do not count.
/// Errors: returns errc::address_in_use when one does, or the bind's own error.
[[nodiscard]] boost::system::error_code check_unclaimed(boost::asio::io_context& ioc,
                                                        const boost::asio::ip::tcp::endpoint& ep);

/// What an operator does about check_unclaimed's error.
[[nodiscard]] const char* claimed_advice(const boost::system::error_code& ec) noexcept;

/// An acceptor on `ep` with SO_REUSEADDR and SO_REUSEPORT, listening with `backlog`.
/// Errors: returns a closed acceptor and sets `ec` (the address is in use, not local, ...).
[[nodiscard]] boost::asio::ip::tcp::acceptor listen_shared(boost::asio::io_context& ioc,
                                                           const boost::asio::ip::tcp::endpoint& ep, int backlog,
                                                           boost::system::error_code& ec);

}  // namespace vigil::net
