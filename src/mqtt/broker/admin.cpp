#include "admin.hpp"

#include "connection.hpp"
#include "shard.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>

namespace vigil::mqtt {
namespace {

constexpr auto answer_within = std::chrono::seconds{2};

/// Runs `f` on shard `s` and returns its result; nullopt when the shard did not answer in time
/// (a wedged shard must not hang an operator's request).
template <class F>
auto ask(shard& s, F f) -> std::optional<decltype(f(s))> {
    using T = decltype(f(s));
    auto p = std::make_shared<std::promise<T>>();
    auto answer = p->get_future();
    asio::post(s.context(), [&s, p, f = std::move(f)]() mutable { p->set_value(f(s)); });
    if (answer.wait_for(answer_within) != std::future_status::ready) {
        return std::nullopt;
    }
    return answer.get();
}

client_info info_of(const client& c) {
    client_info i;
    i.client_id = c.sess.client_id();
    i.identity = c.owner;
    i.persistent = c.sess.persistent();
    i.online = c.conn != nullptr;
    if (c.conn != nullptr) {
        c.conn->describe(i);
    }
    for (const auto& [filter, q] : c.sess.subscriptions()) {
        i.subscriptions.emplace_back(filter, q);
    }
    i.queued = c.sess.queued_count();
    i.inflight = c.sess.inflight_count();
    return i;
}

shard& home(broker_core& core, const std::string& client_id) {
    return *core.shards[core.shards.front()->home_of(client_id)];
}

}  // namespace

std::vector<client_info> connected_clients(broker_core& core, std::size_t limit) {
    std::vector<client_info> all;
    for (auto& sh : core.shards) {
        auto part = ask(*sh, [limit](shard& s) {
            std::vector<client_info> out;
            for (const auto& [id, c] : s.clients()) {
                if (c->conn != nullptr && out.size() < limit) {
                    out.push_back(info_of(*c));
                }
            }
            return out;
        });
        if (part) {
            std::move(part->begin(), part->end(), std::back_inserter(all));
        }
    }
    std::sort(all.begin(), all.end(), [](const client_info& a, const client_info& b) { return a.client_id < b.client_id; });
    if (all.size() > limit) {
        all.resize(limit);
    }
    return all;
}

std::optional<client_info> find_session(broker_core& core, const std::string& client_id) {
    auto found = ask(home(core, client_id), [client_id](shard& s) -> std::optional<client_info> {
        const client* c = s.find_client(client_id);
        if (c == nullptr || c->sink != nullptr) {
            return std::nullopt;
        }
        return info_of(*c);
    });
    return found ? *found : std::nullopt;
}

bool disconnect_client(broker_core& core, const std::string& client_id, bool discard) {
    return ask(home(core, client_id), [client_id, discard](shard& s) {
        client* c = s.find_client(client_id);
        if (c == nullptr || c->sink != nullptr) {
            return false;
        }
        if (c->conn != nullptr) {
            c->conn->close(make_error_code(errc::disconnected_by_admin), true);
            c = s.find_client(client_id);  // a clean session ended with its connection
        }
        if (c != nullptr && discard) {
            s.remove_client(*c);
        }
        return true;
    }).value_or(false);
}

bool clear_retained(broker_core& core, const std::string& topic) {
    if (core.retained.match(topic).empty()) {
        return false;
    }
    // An empty retained message from the server: stored (as a deletion) and delivered as any
    // other publisher's would be.
    return ask(*core.shards.front(), [topic](shard& s) {
        s.route(message::make(topic, std::span<const std::uint8_t>{}, qos::at_most_once, true), nullptr, "");
        return true;
    }).value_or(false);
}

}  // namespace vigil::mqtt
