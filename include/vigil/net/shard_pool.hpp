#pragma once
/// Shards: one single-threaded io_context per worker thread (Seastar-style shard per core).
/// A connection is created on a shard and its state is touched only there; shards talk by
/// posting to each other, which is FIFO per (sender, receiver) pair.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace vigil::net {

namespace asio = boost::asio;

/// Thread safety: safe (start/stop_and_join from the main thread only).
class shard_pool {
public:
    explicit shard_pool(unsigned count);
    ~shard_pool();
    shard_pool(const shard_pool&) = delete;
    shard_pool& operator=(const shard_pool&) = delete;

    [[nodiscard]] unsigned size() const noexcept { return static_cast<unsigned>(contexts_.size()); }
    [[nodiscard]] asio::io_context& context(unsigned i) noexcept { return *contexts_[i]; }

    /// Starts one thread per shard.
    void start();
    /// Lets each shard's loop end once its work is done, waits up to `grace`, then stops
    /// the loops that are still running and joins every thread.
    void stop_and_join(std::chrono::milliseconds grace);

    /// The shard the calling thread runs, or -1 off the shards.
    [[nodiscard]] static int current() noexcept;

private:
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::vector<std::optional<asio::executor_work_guard<asio::io_context::executor_type>>> guards_;
    std::vector<std::thread> threads_;
};

}  // namespace vigil::net
