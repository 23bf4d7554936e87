#pragma once
// The control socket: a Unix socket in data_dir through which `vigil db backup` asks the
// running process to act. Only the user running vigil and root can reach it (the socket is
// 0600), so it needs no other credential; every request is logged with the peer's uid and pid.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace vigil::app {

/// The socket of the vigil that runs on `data_dir`.
[[nodiscard]] std::filesystem::path control_path(const std::filesystem::path& data_dir);

/// A request line in, a reply out: "ok TEXT" or "error TEXT".
using control_handler = std::function<std::string(std::string_view request, std::string_view peer)>;

/// Listens on `path` (replacing a stale socket left by a killed process) and answers one
/// request at a time on its own thread. A request is one line of at most 4 KiB; a client that
/// has not sent it within 5 s in all is dropped, and so is one still sending when vigil stops. Thread safety: construct
/// and destroy on one thread.
class control_socket {
public:
    /// Errors: throws std::runtime_error naming the path when it cannot listen there.
    control_socket(std::filesystem::path path, control_handler handler);
    control_socket(const control_socket&) = delete;
    control_socket& operator=(const control_socket&) = delete;
    /// Stops listening (after the request in progress) and removes the socket.
    ~control_socket();

private:
    void run();

    std::filesystem::path path_;
    control_handler handler_;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    std::thread thread_;
};

/// Sends `request` to the vigil listening on `path` and returns its reply; nullopt when no
/// process listens there. Errors: throws std::runtime_error when the reply is cut off.
[[nodiscard]] std::optional<std::string> control_request(const std::filesystem::path& path, std::string_view request);

}  // namespace vigil::app
