#include "shard.hpp"

#include "connection.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/store/records.hpp>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <chrono>
#include <functional>
#include <utility>

namespace vigil::mqtt {

void shard::off_shard(const char* where) const noexcept {
    std::fprintf(stderr, "vigil: %s ran on thread %d, not on shard %u (shard::expect_here)\n", where,
                 net::shard_pool::current(), id_);
    std::abort();
}

unsigned shard::home_of(std::string_view client_id) const noexcept {
    return static_cast<unsigned>(std::hash<std::string_view>{}(client_id) % core_.shards.size());
}

std::string shard::assign_client_id() {
    for (;;) {
        std::string id = fmt::format("vigil-{}-{}", id_, ++next_assigned_id_);
        if (home_of(id) == id_ && clients_.find(id) == clients_.end()) {
            return id;
        }
    }
}

client* shard::find_client(const std::string& id) {
    auto it = clients_.find(id);
    return it == clients_.end() ? nullptr : it->second.get();
}

client& shard::create_client(const std::string& id, bool persistent) {
    expect_here();
    session_limits lim;
    lim.max_inflight = core_.settings.limits.max_inflight;
    lim.max_queued = core_.settings.limits.max_queued;
    lim.max_queued_bytes = core_.settings.limits.max_queued_bytes;
    auto c = std::make_unique<client>(session{id, persistent, lim});
    c->sess.count_in(&sessions_);
    client& ref = *c;
    clients_.emplace(id, std::move(c));
    return ref;
}

void shard::remove_client(client& c) {
    expect_here();
    if (c.sess.persistent() && c.owner_known) {
        core_.owners.remove(c.owner);
    }
    if (c.sess.persistent()) {
        // The session ends for good [MQTT-3.1.2-6]: so does everything stored for it.
        const std::string prefix = store::client_prefix(c.sess.client_id());
        auto& b = batch();
        b.erase(store::family::sessions, prefix);
        b.erase_prefix(store::family::subscriptions, prefix);
        b.erase_prefix(store::family::queue, prefix);
        b.erase_prefix(store::family::inbound, prefix);
    }
    // Copy the filters: unsubscribe() must not erase from the map being walked.
    std::vector<std::string> filters;
    for (const auto& [f, q] : c.sess.subscriptions()) {
        filters.push_back(f);
    }
    for (const auto& f : filters) {
        if (table_.remove(f, &c)) {
            core_.index.remove(f, id_);
        }
    }
    std::erase(holding_, &c);  // also when its held deliveries were dropped at a disconnect
    clients_.erase(c.sess.client_id());
}

void shard::subscribe(client& c, const std::string& filter, qos q, bool checked) {
    expect_here();
    if (table_.add(filter, &c, q, checked)) {
        core_.index.add(filter, id_);
    }
}

void shard::unsubscribe(client& c, const std::string& filter) {
    expect_here();
    if (table_.remove(filter, &c)) {
        core_.index.remove(filter, id_);
    }
}

void shard::route(const message_ref& m, const std::string* publisher, std::string_view client_id) {
    expect_here();
    ++counters_.publishes_in;
    if (core_.history) {
        const auto& filters = core_.settings.archive.topics;
        if (std::any_of(filters.begin(), filters.end(),
                        [&m](const std::string& f) { return topic::matches(f, m->topic()); })) {
            if (core_.durable && m->published_qos() != qos::at_most_once) {
                // Staged in the commit its acknowledgement waits for: no crash loses it from the history.
                auto staged = archive::encode(*m, client_id);
                batch().put(store::family::history, std::move(staged.key), std::move(staged.value));
                archive_staged_.push_back({m, std::string{client_id}, true});
            } else {
                if (archive_pass_.empty()) {
                    asio::post(ioc_, [this] { hand_to_archive(); });
                }
                archive_pass_.push_back({m, std::string{client_id}});
            }
        }
    }
    if (m->retain()) {
        retain(m, publisher);
    }
    if (!core_.settings.state.topics.empty()) {
        update_state(m);
    }
    fan_out(m);
}

void shard::publish_system(const message_ref& m) {
    core_.retained.update(m);  // in memory only: the broker publishes them again after a start
    fan_out(m);
}

void shard::fan_out(const message_ref& m) {
    const auto& index = snapshot_.current();
    const std::uint64_t self = std::uint64_t{1} << id_;
    boost::container::small_vector<const router::index_node*, 4> nodes;
    std::uint64_t remote = 0;
    index->match(m->topic(), [&](const router::index_node& n) {
        nodes.push_back(&n);
        remote |= n.shard_mask & ~self;
    });
    if (nodes.empty()) {
        return;
    }
    // Hand off first, so other shards start while this one delivers locally.
    if (remote != 0 && outbox_.empty()) {
        outbox_.resize(core_.shards.size());  // every shard exists once messages flow
    }
    // Durable QoS 1/2: the publisher's ack waits for the other shards' writes too.
    std::shared_ptr<ack_barrier> barrier;
    if (remote != 0 && core_.durable && m->published_qos() != qos::at_most_once) {
        barrier = current_barrier();
    }
    // Durable QoS 2: exactly once across a crash. The publisher's packet id and every
    // shard's queue entries are committed in one write (a store group), and nothing is sent
    // to a subscriber before that: after a crash either all of it exists, and the re-sent
    // PUBLISH is recognised, or none of it does and no subscriber has seen the message.
    const bool exactly_once = core_.durable && m->published_qos() == qos::exactly_once;
    std::uint64_t group = 0;
    std::uint32_t parts = 0;
    if (exactly_once) {
        hold_until_commit(m);
        if (remote != 0) {
            group = core_.next_group.fetch_add(1, std::memory_order_relaxed) + 1;
            parts = 1 + static_cast<std::uint32_t>(__builtin_popcountll(remote));
            batch().link(group, parts);
        }
    }
    while (remote != 0) {
        const auto target = static_cast<unsigned>(__builtin_ctzll(remote));
        remote &= remote - 1;
        outbox_[target].push_back({m, barrier, group, parts, index, nodes});
        if (!flush_scheduled_) {
            flush_scheduled_ = true;
            asio::post(ioc_, [this] { flush_outboxes(); });
        }
    }
    deliver_matched(m, nodes.data(), nodes.size());
}

void shard::deliver_matched(const message_ref& m, const router::index_node* const* nodes, std::size_t count) {
    const std::uint64_t self = std::uint64_t{1} << id_;
    targets_.clear();
    std::size_t filters = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if ((nodes[i]->shard_mask & self) == 0) {
            continue;
        }
        const auto* subs = table_.find(nodes[i]->filter);
        if (subs == nullptr) {
            continue;  // unsubscribed since the index version was taken
        }
        ++filters;
        for (const auto& e : *subs) {
            targets_.push_back({e.sub, min_qos(m->published_qos(), e.q), e.checked});
        }
    }
    if (filters > 1) {
        // Overlapping subscriptions: one copy per client at the highest QoS [MQTT-3.3.5-1],
        // checked only if every subscription it came through is (one that is not covers it).
        std::sort(targets_.begin(), targets_.end(), [](const delivery_target& a, const delivery_target& b) {
            return a.c < b.c || (a.c == b.c && a.q > b.q);
        });
        auto out = targets_.begin();
        for (auto it = targets_.begin(); it != targets_.end(); ++it) {
            if (out != targets_.begin() && std::prev(out)->c == it->c) {
                std::prev(out)->checked = std::prev(out)->checked && it->checked;
            } else {
                *out++ = *it;
            }
        }
        targets_.erase(out, targets_.end());
    }
    // deliver_to never re-enters route(), so iterating the scratch vector is safe.
    for (const auto& t : targets_) {
        if (t.checked && !t.c->may_read(m->topic())) {
            ++counters_.denied_deliveries;  // authorization where data leaves
            continue;
        }
        deliver_to(*t.c, m, t.q, false);
    }
}

void shard::attach_sink(router::sink& s) {
    expect_here();
    client& c = create_client(assign_client_id(), false);
    c.sink = &s;
    sinks_[&s] = &c;
}

void shard::detach_sink(router::sink& s) {
    expect_here();
    const auto it = sinks_.find(&s);
    if (it != sinks_.end()) {
        client* c = it->second;
        sinks_.erase(it);
        remove_client(*c);
    }
}

void shard::subscribe_sink(router::sink& s, std::string_view filter) {
    expect_here();
    const auto it = sinks_.find(&s);
    if (it == sinks_.end()) {
        return;
    }
    // The session records the filter so remove_client finds it; its actions are not needed.
    subscribe_packet sp{1, {{filter, qos::at_most_once}}};
    scratch_.clear();
    it->second->sess.on_packet(sp, scratch_);
    subscribe(*it->second, std::string{filter}, qos::at_most_once, false);  // the sink checks what it sends
}

void shard::unsubscribe_sink(router::sink& s, std::string_view filter) {
    expect_here();
    const auto it = sinks_.find(&s);
    if (it == sinks_.end()) {
        return;
    }
    unsubscribe_packet up{1, {filter}};
    scratch_.clear();
    it->second->sess.on_packet(up, scratch_);
    unsubscribe(*it->second, std::string{filter});
}

void shard::deliver_to(client& c, const message_ref& m, qos q, bool retain) {
    expect_here();
    if (c.sink != nullptr) {
        ++counters_.deliveries;
        if (!hold(c, send_publish{m, q, 0, false, retain})) {
            c.sink->deliver(m);
        }
        return;
    }
    scratch_.clear();
    const session_stats before = c.sess.stats();
    c.sess.deliver(m, q, retain, scratch_);
    ++counters_.deliveries;
    const session_stats& after = c.sess.stats();
    counters_.dropped_queue_full += after.dropped_queue_full - before.dropped_queue_full;
    counters_.dropped_qos0_offline += after.dropped_qos0_offline - before.dropped_qos0_offline;
    if (c.conn == nullptr && after.dropped_queue_full != before.dropped_queue_full) {
        VIGIL_LOG_LIMITED(
            warn, "client '{}' is offline with {} queued messages (max_queued): dropping new QoS 1/2 messages for it",
            c.sess.client_id(), c.sess.queued_count());
    }
    carry_out(c, scratch_);
}

void shard::carry_out(client& c, action_list& acts) {
    if (c.sess.persistent()) {
        for (const auto& a : acts) {
            persist(c, a);
        }
    }
    if (c.conn == nullptr) {
        return;
    }
    for (auto& a : acts) {
        if (auto* p = std::get_if<send_publish>(&a)) {
            c.conn->send(*p);
        } else if (auto* cl = std::get_if<close_connection>(&a)) {
            VIGIL_LOG_LIMITED(warn, "client '{}': {} queued messages, disconnecting a subscriber that does not keep up",
                              c.sess.client_id(), c.sess.queued_count());
            c.conn->close_later(cl->reason);
        }
    }
}

void shard::flush_outboxes() {
    flush_scheduled_ = false;
    for (unsigned t = 0; t < outbox_.size(); ++t) {
        if (outbox_[t].empty()) {
            continue;
        }
        shard* target = core_.shards[t].get();
        target->remote_queued_.fetch_add(outbox_[t].size(), std::memory_order_relaxed);
        asio::post(target->ioc_, [target, b = std::move(outbox_[t])]() mutable { target->on_remote(std::move(b)); });
        outbox_[t] = remote_batch{};
    }
}

void shard::on_remote(remote_batch b) {
    for (auto& d : b) {
        if (d.group != 0) {
            batch().link(d.group, d.parts);
            hold_until_commit(d.msg);
        }
        deliver_matched(d.msg, d.nodes.data(), d.nodes.size());
        if (d.barrier) {
            held_.push_back(std::move(d.barrier));
            schedule_commit();
        }
    }
    remote_queued_.fetch_sub(b.size(), std::memory_order_relaxed);
}

void shard::hand_over_history() {
    if (core_.history) {
        hand_to_archive();
        if (!archive_staged_.empty()) {
            commit();
        }
    }
}

void shard::hand_to_archive() {
    if (!archive_pass_.empty()) {
        core_.history->append(std::exchange(archive_pass_, {}));
    }
}

void shard::mark_dirty(std::shared_ptr<connection> c) {
    expect_here();
    if (dirty_.empty()) {
        asio::post(ioc_, [this] { flush_dirty(); });
    }
    dirty_.push_back(std::move(c));
}

void shard::flush_dirty() {
    flushing_.swap(dirty_);
    for (auto& c : flushing_) {
        c->flush();
    }
    flushing_.clear();
}

void shard::start_expiry() {
    const auto expiry = core_.settings.limits.session_expiry;
    if (expiry.count() <= 0 || closing_) {
        return;
    }
    const auto period = std::clamp(expiry / 10, std::chrono::milliseconds{10}, std::chrono::milliseconds{60'000});
    // The handler owns its timer, so a timer never outlives its io_context.
    auto t = std::make_shared<asio::steady_timer>(ioc_, period);
    expiry_timer_ = t;
    t->async_wait([this, t](error_code ec) {
        if (!ec) {
            expire_sessions();
            start_expiry();
        }
    });
}

void shard::start_heartbeat() {
    if (closing_) {
        return;
    }
    last_beat_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    auto t = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds{250});
    heartbeat_ = t;
    t->async_wait([this, t](error_code ec) {
        if (ec) {
            return;
        }
        const std::chrono::duration<double> late = std::chrono::steady_clock::now() - t->expiry();
        loop_.lag_seconds.add(std::max(late.count(), 0.0));
        start_heartbeat();
    });
}

shard_loop_stats shard::loop_stats() const {
    shard_loop_stats s = loop_;
    s.remote_queued = remote_queued_.load(std::memory_order_relaxed);
    timespec cpu{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
        s.cpu_seconds = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
    }
    return s;
}

void shard::expire_sessions() {
    const auto deadline = std::chrono::steady_clock::now() - core_.settings.limits.session_expiry;
    std::vector<client*> expired;
    for (auto& [id, c] : clients_) {
        if (c->conn == nullptr && c->sess.persistent() && c->detached_at < deadline) {
            expired.push_back(c.get());
        }
    }
    for (client* c : expired) {
        remove_client(*c);  // and everything stored for it
    }
    if (!expired.empty()) {
        counters_.sessions_expired += expired.size();
        log::info("shard {}: expired {} persistent sessions away longer than session_expiry", id_, expired.size());
    }
}

void shard::close_all() {
    closing_ = true;  // no more expiry sweeps: the loop may end, sessions stay as they are
    for (const auto& w : {expiry_timer_, heartbeat_}) {
        if (auto t = w.lock()) {
            t->cancel();
        }
    }
    const std::vector<connection*> all(live_.begin(), live_.end());
    for (connection* c : all) {
        c->close(make_error_code(errc::server_shutdown));
    }
    flush_last_values();
    if (core_.history) {
        hand_to_archive();
        if (!archive_staged_.empty()) {
            core_.history->append(std::exchange(archive_staged_, {}));
        }
    }
}

}  // namespace vigil::mqtt
