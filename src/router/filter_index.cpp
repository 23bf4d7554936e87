#include <vigil/router/filter_index.hpp>

#include <vigil/core/sync.hpp>
#include <vigil/core/topic.hpp>

#include <algorithm>

namespace vigil::router {
namespace {

using node_ptr = std::shared_ptr<const index_node>;

std::vector<std::string_view> split(std::string_view filter) {
    std::vector<std::string_view> levels;
    topic::for_each_level(filter, [&levels](std::string_view l, bool) { levels.push_back(l); });
    return levels;
}

bool empty_node(const index_node& n) { return n.shard_mask == 0 && n.children.empty() && !n.plus && !n.hash; }

/// Returns a copy of `n` (or a fresh node) with `levels[i..]` updated by `apply`;
/// nullptr when the result is empty and can be pruned.
template <class Apply>
node_ptr update(const index_node* n, const std::vector<std::string_view>& levels, std::size_t i,
                std::string_view filter, Apply& apply) {
    auto copy = n ? std::make_shared<index_node>(*n) : std::make_shared<index_node>();
    if (i == levels.size()) {
        apply(*copy);
        copy->filter = copy->shard_mask != 0 ? std::string{filter} : std::string{};
    } else {
        const std::string_view level = levels[i];
        if (level == "+" || level == "#") {
            node_ptr& slot = level == "+" ? copy->plus : copy->hash;
            slot = update(slot.get(), levels, i + 1, filter, apply);
        } else {
            const node_ptr* found = copy->children.find_ptr(level);
            node_ptr next = update(found != nullptr ? found->get() : nullptr, levels, i + 1, filter, apply);
            copy->children = copy->children.with(level, std::move(next));
        }
    }
    if (empty_node(*copy)) {
        return nullptr;
    }
    return copy;
}

}  // namespace

index_writer::index_writer() : current_(std::make_shared<filter_index>(nullptr)) {}

void index_writer::add(std::string_view filter, unsigned shard) {
    const auto levels = split(filter);
    auto apply = [shard](index_node& n) { n.shard_mask |= std::uint64_t{1} << shard; };
    const lock_guard lock{mu_};
    publish_locked(update(current_->root().get(), levels, 0, filter, apply));
}

void index_writer::remove(std::string_view filter, unsigned shard) {
    const auto levels = split(filter);
    auto apply = [shard](index_node& n) { n.shard_mask &= ~(std::uint64_t{1} << shard); };
    const lock_guard lock{mu_};
    publish_locked(update(current_->root().get(), levels, 0, filter, apply));
}

std::shared_ptr<const filter_index> index_writer::current() const {
    const lock_guard lock{mu_};
    return current_;
}

void index_writer::publish_locked(std::shared_ptr<const index_node> root) {
    current_ = std::make_shared<filter_index>(std::move(root));
    version_.fetch_add(1, std::memory_order_release);
}

}  // namespace vigil::router
