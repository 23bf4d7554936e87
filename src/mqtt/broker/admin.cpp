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

broker::client_list connected_clients(broker_core& core, std::size_t limit) {
    broker::client_list out;
    const auto by_id = [](const client_info& x, const client_info& y) { return x.client_id < y.client_id; };
    for (auto& sh : core.shards) {
        // Each shard gives its `limit` first by client id: together they hold the first overall.
        auto part = ask(*sh, [limit](shard& s) {
            std::vector<const client*> online;
            for (const auto& [id, c] : s.clients()) {
                if (c->conn != nullptr) {
                    online.push_back(c.get());
                }
            }
            const std::size_t n = std::min(limit, online.size());
            std::partial_sort(
                online.begin(), online.begin() + static_cast<std::ptrdiff_t>(n), online.end(),
                [](const client* x, const client* y) { return x->sess.client_id() < y->sess.client_id(); });
            std::pair<std::vector<client_info>, std::size_t> r{{}, online.size()};
            for (std::size_t i = 0; i < n; ++i) {
                r.first.push_back(info_of(*online[i]));
            }
            return r;
        });
        if (!part) {
            out.complete = false;
            continue;
        }
        out.total += part->second;
        std::move(part->first.begin(), part->first.end(), std::back_inserter(out.clients));
    }
    std::sort(out.clients.begin(), out.clients.end(), by_id);
    if (out.clients.size() > limit) {
        out.clients.resize(limit);
    }
    return out;
}

broker::session_lookup find_session(broker_core& core, const std::string& client_id) {
    auto found = ask(home(core, client_id), [client_id](shard& s) -> std::optional<client_info> {
        const client* c = s.find_client(client_id);
        if (c == nullptr || c->sink != nullptr) {
            return std::nullopt;
        }
        return info_of(*c);
    });
    if (!found) {
        return {broker::admin_result::no_answer, {}};
    }
    if (!*found) {
        return {broker::admin_result::not_found, {}};
    }
    return {broker::admin_result::done, std::move(**found)};
}

broker::admin_result disconnect_client(broker_core& core, const std::string& client_id, bool discard) {
    const auto r = ask(home(core, client_id), [client_id, discard](shard& s) {
        client* c = s.find_client(client_id);
        if (c == nullptr || c->sink != nullptr) {
            return false;
        }
        if (c->conn != nullptr) {
            c->conn->close(make_error_code(errc::disconnected_by_admin));
            c = s.find_client(client_id);  // a clean session ended with its connection
        }
        if (c != nullptr && discard) {
            s.remove_client(*c);
        }
        return true;
    });
    return !r ? broker::admin_result::no_answer : *r ? broker::admin_result::done : broker::admin_result::not_found;
}

broker::admin_result clear_retained(broker_core& core, const std::string& topic) {
    const auto r = ask(*core.shards.front(), [topic](shard& s) { return s.erase_retained(topic); });
    return !r ? broker::admin_result::no_answer : *r ? broker::admin_result::done : broker::admin_result::not_found;
}

}  // namespace vigil::mqtt
