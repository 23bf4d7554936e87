#pragma once
/// The global topic-filter index: which shards hold subscribers for which filters.
///
/// Design note. Readers (every shard, on every publish) must not lock. The index is a trie
/// of filter levels published as immutable versions (RCU style): the writer path-copies
/// the nodes from the root to the changed node, shares every untouched subtree with the
/// previous version, and publishes the new root. A shard keeps a `snapshot` of the root
/// and refreshes it only when the version counter moved, so a publish costs one acquire
/// load when the index is unchanged. The index changes only when a filter gains its first
/// or loses its last subscriber on a shard; everything else is shard-local.

#include <vigil/core/sync.hpp>
#include <vigil/router/child_map.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <atomic>

namespace vigil::router {

/// Shards a filter's subscribers can be on: index_node::shard_mask has a bit for each.
constexpr unsigned max_shards = 64;

/// One immutable trie node.
struct index_node {
    child_map children;                      ///< literal levels
    std::shared_ptr<const index_node> plus;  ///< the '+' child
    std::shared_ptr<const index_node> hash;  ///< the '#' child
    std::uint64_t shard_mask = 0;            ///< shards with subscribers of `filter`
    std::string filter;                      ///< the full filter ending here, if any

    [[nodiscard]] const index_node* child(std::string_view level) const noexcept { return children.find(level); }
};

/// One published version of the index.
/// Thread safety: immutable; safe.
class filter_index {
public:
    explicit filter_index(std::shared_ptr<const index_node> root) : root_(std::move(root)) {}

    /// Calls `f(const index_node&)` for every filter matching `topic`, once each.
    /// Complexity: proportional to the matching trie paths, not to the number of filters.
    template <class F>
    void match(std::string_view topic, F&& f) const {
        if (root_) {
            match_level(*root_, topic, 0, !topic.empty() && topic.front() == '$', f);
        }
    }

    [[nodiscard]] const std::shared_ptr<const index_node>& root() const noexcept { return root_; }

private:
    template <class F>
    static void match_level(const index_node& n, std::string_view topic, std::size_t pos, bool dollar_first, F& f) {
        const bool first_level = pos == 0;
        // '#' matches this level and everything below, including the parent [MQTT-4.7.1-2].
        if (n.hash && n.hash->shard_mask != 0 && !(first_level && dollar_first)) {
            f(*n.hash);
        }
        const std::size_t slash = topic.find('/', pos);
        const std::string_view level =
            topic.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        const bool last = slash == std::string_view::npos;
        auto visit = [&](const index_node& c) {
            if (last) {
                if (c.shard_mask != 0) {
                    f(c);
                }
                if (c.hash && c.hash->shard_mask != 0) {
                    f(*c.hash);  // "a/#" matches "a"
                }
            } else {
                match_level(c, topic, slash + 1, dollar_first, f);
            }
        };
        if (const index_node* c = n.child(level)) {
            visit(*c);
        }
        if (n.plus && !(first_level && dollar_first)) {
            visit(*n.plus);
        }
    }

    std::shared_ptr<const index_node> root_;
};

/// The single writer of the index and the source of its versions.
/// Thread safety: safe.
class index_writer {
public:
    index_writer();

    /// Marks `shard` as holding subscribers of `filter`. Precondition: valid filter.
    void add(std::string_view filter, unsigned shard);
    /// Clears `shard` from `filter`; prunes nodes left empty.
    void remove(std::string_view filter, unsigned shard);

    /// The current version number; acquire pairs with the release in publish_locked().
    [[nodiscard]] std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }
    /// The current index (takes the writer lock briefly; used on version change only).
    [[nodiscard]] std::shared_ptr<const filter_index> current() const;

private:
    void publish_locked(std::shared_ptr<const index_node> root) VIGIL_REQUIRES(mu_);

    mutable mutex mu_;
    std::shared_ptr<const filter_index> current_ VIGIL_GUARDED_BY(mu_);
    // release in publish_locked(): a reader that loads version N and then takes current_
    // sees version N or newer, never an older root.
    std::atomic<std::uint64_t> version_{0};
};

/// A shard's cached view of the index.
/// Thread safety: shard-affine.
class snapshot {
public:
    explicit snapshot(const index_writer& w) : writer_(&w), cached_(w.current()), version_(w.version()) {}

    /// Refreshes if a writer published a newer version. Complexity: one acquire load when unchanged.
    [[nodiscard]] const std::shared_ptr<const filter_index>& current() {
        const std::uint64_t v = writer_->version();
        if (v != version_) {
            cached_ = writer_->current();
            version_ = v;
        }
        return cached_;
    }

private:
    const index_writer* writer_;
    std::shared_ptr<const filter_index> cached_;
    std::uint64_t version_;
};

}  // namespace vigil::router
