#pragma once
// The HTTP and WebSocket connections open on each shard, so that stopping the server closes
// them at once (a dashboard gets 1001 "going away") instead of waiting out the grace period,
// and a reload of the API tokens reaches the dashboards using one.

#include <vigil/auth/tokens.hpp>

#include <cstddef>
#include <memory>
#include <unordered_set>
#include <vector>

namespace vigil::http {

/// Something the server closes when it stops. Thread safety: shard-affine.
class closable {
public:
    virtual void close_for_shutdown() = 0;
    /// The API tokens were reloaded (null: none configured any more).
    virtual void tokens_changed(const std::shared_ptr<const auth::token_file>& tokens) = 0;

protected:
    ~closable() = default;
};

/// One set per shard. Thread safety: each set is touched only on its shard's thread.
class live_connections {
public:
    explicit live_connections(std::size_t shards) : sets_(shards) {}

    /// Registers `c` on the calling shard (`shard` is net::shard_pool::current()).
    void add(int shard, closable* c) { sets_[static_cast<std::size_t>(shard)].insert(c); }
    void remove(int shard, closable* c) { sets_[static_cast<std::size_t>(shard)].erase(c); }
    /// Closes everything open on `shard`; called on that shard.
    void close_all(std::size_t shard) {
        const std::vector<closable*> open(sets_[shard].begin(), sets_[shard].end());
        for (closable* c : open) {
            c->close_for_shutdown();
        }
    }
    /// Tells everything open on `shard` of reloaded tokens; called on that shard.
    void tokens_changed(std::size_t shard, const std::shared_ptr<const auth::token_file>& tokens) {
        const std::vector<closable*> open(sets_[shard].begin(), sets_[shard].end());
        for (closable* c : open) {
            c->tokens_changed(tokens);
        }
    }

private:
    std::vector<std::unordered_set<closable*>> sets_;
};

}  // namespace vigil::http
