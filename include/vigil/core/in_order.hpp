#pragma once
/// Hands values on in the order of their sequence numbers (1, 2, 3, ...), whatever order they
/// arrive in: one that arrives early waits until those before it have arrived. The shard uses it
/// to send acknowledgements in the order their packets came, although the commits they wait
/// for complete on other shards in any order.

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>

namespace vigil {

/// Thread safety: none.
template <class T>
class in_order {
public:
    /// Takes `value`, numbered `seq` (each number once, counting from 1), and calls `on(value)`
    /// for it, if its turn has come, and for every waiting value that now follows in order.
    template <class F>
    void arrive(std::uint64_t seq, T value, F&& on) {
        early_.emplace(seq, std::move(value));
        while (!early_.empty() && early_.begin()->first == next_) {
            auto node = early_.extract(early_.begin());
            ++next_;
            on(node.mapped());
        }
    }
    /// How many arrived before their turn and wait.
    [[nodiscard]] std::size_t waiting() const noexcept { return early_.size(); }

private:
    std::uint64_t next_ = 1;
    std::map<std::uint64_t, T> early_;
};

}  // namespace vigil
