#include <vigil/router/child_map.hpp>

#include <bit>
#include <functional>
#include <utility>

namespace vigil::router {

using node_ptr = std::shared_ptr<const index_node>;

/// A branch (bitmap of the 32 slots in use, one entry per set bit, in bit order) or, once
/// the hash is used up, a list of leaves whose hashes are equal.
struct child_map::hnode {
    struct entry {
        std::uint64_t hash = 0;
        std::string key;                   // a leaf's level
        node_ptr value;                    // a leaf's child; null for a sub-trie
        std::shared_ptr<const hnode> sub;  // a sub-trie; null for a leaf
    };
    std::uint32_t bitmap = 0;
    std::vector<entry> entries;
};

namespace {

using hnode = child_map::hnode;
using hnode_ptr = std::shared_ptr<const hnode>;
constexpr unsigned bits = 5;
constexpr unsigned max_shift = 64;  // at or past it: a list of colliding leaves

std::uint64_t hash_of(std::string_view level) noexcept { return std::hash<std::string_view>{}(level); }

struct slot {
    std::uint32_t bit;
    std::size_t pos;  // index into entries
};

slot slot_of(const hnode& n, std::uint64_t hash, unsigned shift) noexcept {
    const std::uint32_t bit = std::uint32_t{1} << ((hash >> shift) & 31u);
    return {bit, static_cast<std::size_t>(std::popcount(n.bitmap & (bit - 1)))};
}

/// A trie holding two leaves of different keys, from `shift` down.
hnode_ptr pair_of(hnode::entry a, hnode::entry b, unsigned shift) {
    auto n = std::make_shared<hnode>();
    if (shift >= max_shift) {
        n->entries = {std::move(a), std::move(b)};
        return n;
    }
    const std::uint32_t ia = static_cast<std::uint32_t>((a.hash >> shift) & 31u);
    const std::uint32_t ib = static_cast<std::uint32_t>((b.hash >> shift) & 31u);
    if (ia == ib) {
        n->bitmap = std::uint32_t{1} << ia;
        n->entries.push_back({a.hash, {}, nullptr, pair_of(std::move(a), std::move(b), shift + bits)});
    } else {
        n->bitmap = (std::uint32_t{1} << ia) | (std::uint32_t{1} << ib);
        if (ia < ib) {
            n->entries = {std::move(a), std::move(b)};
        } else {
            n->entries = {std::move(b), std::move(a)};
        }
    }
    return n;
}

/// `n` with `key` set to `value` (null: removed); `n` itself when nothing changes, null when
/// nothing is left. `delta` is the change in the number of keys.
hnode_ptr set(const hnode_ptr& n, unsigned shift, std::uint64_t hash, std::string_view key, node_ptr value,
              long& delta) {
    if (!n) {
        if (!value) {
            return n;
        }
        ++delta;
        auto leaf = std::make_shared<hnode>();
        if (shift < max_shift) {
            leaf->bitmap = std::uint32_t{1} << ((hash >> shift) & 31u);
        }
        leaf->entries.push_back({hash, std::string{key}, std::move(value), nullptr});
        return leaf;
    }
    if (shift >= max_shift) {  // colliding hashes: a plain list
        auto copy = std::make_shared<hnode>(*n);
        auto& es = copy->entries;
        const auto it = std::find_if(es.begin(), es.end(), [key](const hnode::entry& e) { return e.key == key; });
        if (it == es.end()) {
            if (!value) {
                return n;
            }
            ++delta;
            es.push_back({hash, std::string{key}, std::move(value), nullptr});
        } else if (!value) {
            --delta;
            es.erase(it);
        } else {
            it->value = std::move(value);
        }
        return es.empty() ? nullptr : copy;
    }
    const slot s = slot_of(*n, hash, shift);
    if ((n->bitmap & s.bit) == 0) {
        if (!value) {
            return n;
        }
        ++delta;
        auto copy = std::make_shared<hnode>(*n);
        copy->bitmap |= s.bit;
        copy->entries.insert(copy->entries.begin() + static_cast<std::ptrdiff_t>(s.pos),
                             {hash, std::string{key}, std::move(value), nullptr});
        return copy;
    }
    const hnode::entry& e = n->entries[s.pos];
    auto copy = std::make_shared<hnode>(*n);
    hnode::entry& ce = copy->entries[s.pos];
    if (e.sub) {
        hnode_ptr sub = set(e.sub, shift + bits, hash, key, std::move(value), delta);
        if (sub == e.sub) {
            return n;
        }
        if (sub) {
            ce.sub = std::move(sub);
            return copy;
        }
    } else if (e.key == key) {
        if (value) {
            ce.value = std::move(value);
            return copy;
        }
        --delta;
    } else {
        if (!value) {
            return n;
        }
        ++delta;
        ce = {e.hash, {}, nullptr, pair_of(e, {hash, std::string{key}, std::move(value), nullptr}, shift + bits)};
        return copy;
    }
    // The slot empties.
    copy->bitmap &= ~s.bit;
    copy->entries.erase(copy->entries.begin() + static_cast<std::ptrdiff_t>(s.pos));
    return copy->entries.empty() ? nullptr : copy;
}

}  // namespace

const node_ptr* child_map::find_ptr(std::string_view level) const noexcept {
    const std::uint64_t h = hash_of(level);
    const hnode* n = root_.get();
    for (unsigned shift = 0; n != nullptr; shift += bits) {
        if (shift >= max_shift) {
            for (const auto& e : n->entries) {
                if (e.key == level) {
                    return &e.value;
                }
            }
            return nullptr;
        }
        const slot s = slot_of(*n, h, shift);
        if ((n->bitmap & s.bit) == 0) {
            return nullptr;
        }
        const hnode::entry& e = n->entries[s.pos];
        if (!e.sub) {
            return e.key == level ? &e.value : nullptr;
        }
        n = e.sub.get();
    }
    return nullptr;
}

const index_node* child_map::find(std::string_view level) const noexcept {
    const node_ptr* p = find_ptr(level);
    return p != nullptr ? p->get() : nullptr;
}

child_map child_map::with(std::string_view level, node_ptr child) const {
    long delta = 0;
    child_map out;
    out.root_ = set(root_, 0, hash_of(level), level, std::move(child), delta);
    out.size_ = static_cast<std::size_t>(static_cast<long>(size_) + delta);
    return out;
}

}  // namespace vigil::router
