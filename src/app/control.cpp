#include "control.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/thread_name.hpp>

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace vigil::app {
namespace {

constexpr std::size_t max_request = 4096;
constexpr int request_timeout_ms = 5000;

sockaddr_un address_of(const std::filesystem::path& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (p.size() >= sizeof a.sun_path) {
        throw std::runtime_error(fmt::format(
            "control socket {}: the path is longer than {} bytes: use a shorter data_dir", p, sizeof a.sun_path - 1));
    }
    std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
    return a;
}

/// Reads one request line from `fd` within the request timeout (for the whole line, not per
/// read); nullopt when the peer did not, or `stop_fd` became readable (the process stops).
std::optional<std::string> read_line(int fd, int stop_fd) {
    std::string line;
    std::array<char, 512> buf{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds{request_timeout_ms};
    while (line.size() <= max_request) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        std::array<pollfd, 2> p{pollfd{fd, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
        if (left <= 0 || ::poll(p.data(), p.size(), static_cast<int>(left)) <= 0 || (p[1].revents & POLLIN) != 0) {
            return std::nullopt;
        }
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) {
            return std::nullopt;
        }
        line.append(buf.data(), static_cast<std::size_t>(n));
        if (const auto nl = line.find('\n'); nl != std::string::npos) {
            line.resize(nl);
            return line;
        }
    }
    return std::nullopt;
}

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string peer_of(int fd) {
    ucred c{};
    socklen_t len = sizeof c;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) {
        return "unknown peer";
    }
    return fmt::format("uid {} pid {}", c.uid, c.pid);
}

}  // namespace

std::filesystem::path control_path(const std::filesystem::path& data_dir) { return data_dir / "control.sock"; }

control_socket::control_socket(std::filesystem::path path, control_handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
    const sockaddr_un a = address_of(path_);
    if (control_request(path_, "").has_value()) {
        throw std::runtime_error(fmt::format("control socket {}: another vigil answers there", path_.string()));
    }
    ::unlink(path_.c_str());  // left by a process that was killed
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    // Only the user running vigil (and root) may connect. Set after bind: until then the
    // umask's mode applies (no write bit for others under any usual umask), and the process's
    // umask is never changed under the other threads.
    const bool bound = listen_fd_ >= 0 && ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
                       ::chmod(path_.c_str(), 0600) == 0;
    if (!bound || ::listen(listen_fd_, 4) != 0 || ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
        const int err = errno;
        if (listen_fd_ >= 0) {
            ::close(listen_fd_);
        }
        throw std::runtime_error(
            fmt::format("control socket {}: cannot listen: {}", path_.string(), std::strerror(err)));
    }
    thread_ = std::thread([this] { run(); });
}

control_socket::~control_socket() {
    const char stop = 1;
    (void)::write(stop_pipe_[1], &stop, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    ::unlink(path_.c_str());
}

void control_socket::run() {
    name_thread("vigil-control");
    for (;;) {
        std::array<pollfd, 2> p{pollfd{listen_fd_, POLLIN, 0}, pollfd{stop_pipe_[0], POLLIN, 0}};
        if (::poll(p.data(), p.size(), -1) < 0 && errno != EINTR) {
            log::error("control socket {}: {}; `vigil db backup` cannot reach this process", path_.string(),
                       std::strerror(errno));
            return;
        }
        if ((p[1].revents & POLLIN) != 0) {
            return;
        }
        if ((p[0].revents & POLLIN) == 0) {
            continue;
        }
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        if (const auto request = read_line(fd, stop_pipe_[0]); request && !request->empty()) {
            std::string reply;
            try {
                reply = handler_(*request, peer_of(fd));
            } catch (const std::exception& e) {
                reply = fmt::format("error {}", e.what());
            }
            write_all(fd, reply);
        }
        ::close(fd);
    }
}

std::optional<std::string> control_request(const std::filesystem::path& path, std::string_view request) {
    const sockaddr_un a = address_of(path);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(fmt::format("control socket {}: {}", path.string(), std::strerror(errno)));
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return std::nullopt;  // no socket, or a stale one: nothing runs there
    }
    if (request.empty()) {  // only asked whether someone listens
        ::close(fd);
        return std::string{};
    }
    write_all(fd, fmt::format("{}\n", request));
    std::string reply;
    std::array<char, 4096> buf{};
    ssize_t n = 0;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
        reply.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!reply.starts_with("ok ") && !reply.starts_with("error ")) {
        throw std::runtime_error(
            fmt::format("control socket {}: the running vigil ended the request without an answer", path.string()));
    }
    return reply;
}

}  // namespace vigil::app
