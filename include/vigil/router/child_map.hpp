#pragma once
/// The children of a filter-index node, by level: a persistent hash array mapped trie (HAMT).
///
/// Design note. The filter index is copied on write (RCU): a change copies every node from the
/// root to the changed one. With the children of a node in one sorted vector, a node with n
/// children cost O(n) to copy, so with 100,000 devices each subscribed to
/// `devices/<id>/commands` every subscription change copied 100,000 entries of `devices`.
/// Here the children sit in a 32-way trie keyed by the hash of the level: a change copies the
/// O(log32 n) small trie nodes on its path and shares the rest with the previous version, and
/// a lookup is one hash and a few bit operations. Levels whose 64-bit hashes collide share a
/// list at the bottom.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::router {

struct index_node;

/// Thread safety: immutable; safe. Copies share structure.
class child_map {
public:
    /// The child for `level`, or null. Complexity: one hash, O(log n) steps.
    [[nodiscard]] const index_node* find(std::string_view level) const noexcept;
    /// The same, as the owning pointer (for the writer's path copy).
    [[nodiscard]] const std::shared_ptr<const index_node>* find_ptr(std::string_view level) const noexcept;
    /// A map like this one with `level` set to `child`, or removed when `child` is null.
    /// Complexity: O(log n) nodes of at most 32 entries copied.
    [[nodiscard]] child_map with(std::string_view level, std::shared_ptr<const index_node> child) const;

    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    struct hnode;  ///< a trie node (defined in filter_index.cpp)

private:
    std::shared_ptr<const hnode> root_;
    std::size_t size_ = 0;
};

}  // namespace vigil::router
