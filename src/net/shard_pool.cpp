#include <vigil/net/shard_pool.hpp>

#include <vigil/core/log.hpp>
#include <vigil/core/thread_name.hpp>

#include <atomic>

namespace vigil::net {
namespace {
thread_local int t_current_shard = -1;
}

shard_pool::shard_pool(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
        contexts_.push_back(std::make_unique<asio::io_context>(1));
        guards_.emplace_back(asio::make_work_guard(*contexts_.back()));
    }
}

shard_pool::~shard_pool() {
    if (!threads_.empty()) {
        stop_and_join(std::chrono::milliseconds{0});
    }
}

void shard_pool::start() {
    for (unsigned i = 0; i < contexts_.size(); ++i) {
        threads_.emplace_back([this, i] {
            t_current_shard = static_cast<int>(i);
            name_thread("vigil-shard-" + std::to_string(i));
            for (;;) {
                try {
                    contexts_[i]->run();
                    return;
                } catch (const std::exception& e) {
                    // Handlers catch their own errors; this is the last line of defence.
                    log::error("shard {}: unexpected exception escaped a handler: {}", i, e.what());
                }
            }
        });
    }
}

void shard_pool::stop_and_join(std::chrono::milliseconds grace) {
    for (auto& g : guards_) {
        g.reset();
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (auto& ctx : contexts_) {
        while (!ctx->stopped() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
    }
    for (auto& ctx : contexts_) {
        if (!ctx->stopped()) {
            log::warn("shutdown grace period over: stopping shard loops with work pending");
            ctx->stop();
        }
    }
    for (auto& t : threads_) {
        t.join();
    }
    threads_.clear();
}

int shard_pool::current() noexcept { return t_current_shard; }

}  // namespace vigil::net
