#include <vigil/service/notifier.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

/// A datagram socket standing in for systemd's notification socket (the real protocol:
/// libsystemd's sd_notify sends to it), exported as NOTIFY_SOCKET while it lives.
class notify_socket {
public:
    notify_socket() : path_(std::filesystem::temp_directory_path() / ("vigil-notify-" + std::to_string(::getpid()))) {
        std::filesystem::remove(path_);
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        const std::string p = path_.string();
        REQUIRE(p.size() < sizeof(a.sun_path));
        std::copy(p.begin(), p.end(), a.sun_path);
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0);
        ::setenv("NOTIFY_SOCKET", p.c_str(), 1);
        ::setenv("WATCHDOG_USEC", "200000", 1);
    }
    ~notify_socket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    /// The next message, or "" when none is waiting (sd_notify has sent it before returning).
    std::string next() const {
        char buf[512];
        const auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
    }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

}  // namespace

TEST_CASE("notifier: READY, watchdog pings only while no shard is stalled, STOPPING", "[service]") {
    const notify_socket systemd;
    vigil::service::notifier n;
    REQUIRE(n.watchdog_interval());
    CHECK(n.watchdog_interval()->count() == 100);  // half of WATCHDOG_USEC
    n.ready("serving 1 MQTT and 1 HTTP listener(s)");
    CHECK(systemd.next() == "READY=1\nSTATUS=serving 1 MQTT and 1 HTTP listener(s)");
    n.watchdog({});
    CHECK(systemd.next() == "WATCHDOG=1");
    n.watchdog({1});  // shard 1 stopped turning: no ping
    n.watchdog({1});
    CHECK(systemd.next().empty());
    n.watchdog({});
    CHECK(systemd.next() == "WATCHDOG=1");
    n.stopping();
    CHECK(systemd.next() == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("notifier: outside systemd there is no watchdog and nothing is sent", "[service]") {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    vigil::service::notifier n;
    CHECK_FALSE(n.watchdog_interval());
    n.ready("x");
    n.watchdog({});
    n.stopping();
}
