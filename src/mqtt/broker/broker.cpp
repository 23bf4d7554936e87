#include <vigil/mqtt/broker/broker.hpp>

#include "acceptor.hpp"
#include "admin.hpp"
#include "connection.hpp"
#include "recovery.hpp"
#include "shard.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/sync.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/net/handover.hpp>
#include <vigil/net/listen.hpp>
#include <vigil/net/shard_pool.hpp>

#include <boost/asio/post.hpp>
#include <fmt/ranges.h>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <tuple>
#include <future>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include <unistd.h>

namespace vigil::mqtt {
namespace {

/// The push gateway's way into routing: every call runs on the calling shard.
class push_hub final : public router::hub {
public:
    explicit push_hub(broker_core& core) : core_(core) {}

    void attach(router::sink& s) override { here().attach_sink(s); }
    void detach(router::sink& s) override { here().detach_sink(s); }
    void subscribe(router::sink& s, std::string_view filter) override { here().subscribe_sink(s, filter); }
    void unsubscribe(router::sink& s, std::string_view filter) override { here().unsubscribe_sink(s, filter); }

    std::vector<message_ref> snapshot(std::string_view filter) const override {
        auto out = core_.last_values.match(filter);
        auto retained = core_.retained.match(filter);
        std::unordered_map<std::string_view, std::size_t> at;
        for (std::size_t i = 0; i < out.size(); ++i) {
            at.emplace(out[i]->topic(), i);
        }
        for (auto& m : retained) {
            const auto it = at.find(m->topic());
            if (it == at.end()) {
                out.push_back(std::move(m));
            } else if (m->time_ms() > out[it->second]->time_ms()) {
                out[it->second] = std::move(m);
            }
        }
        std::sort(out.begin(), out.end(),
                  [](const message_ref& a, const message_ref& b) { return a->topic() < b->topic(); });
        return out;
    }

    void publish(const message_ref& m, const std::string& publisher, std::function<void(bool)> done) override {
        here().route(m, &publisher, publisher);
        here().after_commit(std::move(done));
    }

    void count(router::push_event e) override {
        auto& c = here().counters();
        switch (e) {
            case router::push_event::opened:
                ++c.ws_open;
                break;
            case router::push_event::closed:
                --c.ws_open;
                break;
            case router::push_event::sent:
                ++c.ws_sent;
                break;
            case router::push_event::conflated:
                ++c.ws_conflated;
                break;
            case router::push_event::denied:
                ++c.denied_deliveries;
                break;
            case router::push_event::too_slow:
                ++c.ws_too_slow;
                break;
        }
    }

    bool is_state_topic(std::string_view topic) const override {
        return std::any_of(core_.settings.state.topics.begin(), core_.settings.state.topics.end(),
                           [topic](const std::string& f) { return topic::matches(f, topic); });
    }

    void after_all_shards(std::function<void()> done) override {
        asio::io_context* origin = &here().context();
        auto left = std::make_shared<std::atomic<std::size_t>>(core_.shards.size());
        auto shared = std::make_shared<std::function<void()>>(std::move(done));
        for (auto& sh : core_.shards) {
            asio::post(sh->context(), [s = sh.get(), left, shared, origin] {
                s->hand_over_history();  // a message routed concurrently with the caller's subscribe
                if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) {
                    // The callback (and what it holds) ends on the calling shard, not on
                    // whichever shard drops the last reference.
                    asio::post(*origin, [shared] { std::exchange(*shared, nullptr)(); });
                }
            });
        }
    }

    router::replay history_since(const std::vector<std::string>& filters, std::int64_t since_ms, std::size_t max,
                                 const std::function<bool(std::string_view)>& may_read) const override {
        router::replay r;
        if (!core_.history) {
            return r;
        }
        core_.history->flush();  // what the shards handed over is readable
        const std::int64_t until =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count() +
            60'000;
        const auto& kept = core_.settings.archive.topics;
        r.complete = true;
        std::vector<archive::record> found;
        for (const auto& f : filters) {
            if (std::none_of(kept.begin(), kept.end(), [&f](const std::string& k) { return topic::covers(k, f); })) {
                r.complete = false;  // some of its topics are not kept
            }
            archive::query q{f, since_ms, until, max + 1, false, std::nullopt};
            const auto page = core_.history->read(q, may_read);
            r.complete = r.complete && page.kept_from_ms <= since_ms && !page.next;
            found.insert(found.end(), std::make_move_iterator(page.records.begin()),
                         std::make_move_iterator(page.records.end()));
        }
        std::sort(found.begin(), found.end(), [](const archive::record& a, const archive::record& b) {
            return std::tie(a.time_ms, a.seq, a.topic) < std::tie(b.time_ms, b.seq, b.topic);  // as received
        });
        found.erase(std::unique(found.begin(), found.end(),
                                [](const archive::record& a, const archive::record& b) {
                                    return a.time_ms == b.time_ms && a.seq == b.seq && a.topic == b.topic;
                                }),
                    found.end());  // overlapping filters
        if (found.size() > max) {
            found.resize(max);
            r.complete = false;
        }
        for (const auto& rec : found) {
            const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(rec.payload.data()),
                                                      rec.payload.size()};
            r.messages.push_back({message::make(rec.topic, bytes, rec.q, rec.retain, rec.time_ms), rec.seq});
        }
        return r;
    }

private:
    shard& here() const {
        const int on = net::shard_pool::current();
        if (on < 0) {
            std::fputs("vigil: the push hub was called off the shards\n", stderr);
            std::abort();
        }
        return *core_.shards[static_cast<std::size_t>(on)];
    }

    broker_core& core_;
};

}  // namespace

static_assert(config::max_workers <= router::max_shards, "every shard needs a bit in the router's shard masks");

struct broker::impl {
    mutex stats_mu;  // stats() from the main thread and the query thread
    std::vector<broker_stats> last_answers VIGIL_GUARDED_BY(stats_mu);  // each shard's last answer to stats()
    explicit impl(const config::settings& s) : pool(s.resolved_workers()) {
        core.settings = s;
        core.gate =
            std::make_unique<net::connection_gate>(s.limits.max_connections, s.limits.max_connections_per_address);
        core.retained_quotas = std::make_unique<retained_quota>(core.settings.limits);
        for (unsigned i = 0; i < pool.size(); ++i) {
            core.shards.push_back(std::make_unique<shard>(core, i, pool.context(i)));
        }
        if (!s.auth.password_file.empty()) {
            auto users = auth::password_file::load(s.auth.password_file);
            log::info("password file {}: {} users", s.auth.password_file, users.size());
            core.authn = std::make_unique<auth::authenticator>(std::move(users), s.auth.hash_threads);
        }
        if (!s.auth.acl_file.empty()) {
            auto acl = std::make_shared<const auth::acl>(auth::acl::load(s.auth.acl_file));
            log::info("ACL file {}: {} rules; everything else is denied", s.auth.acl_file, acl->rule_count());
            for (auto& sh : core.shards) {
                sh->set_acl(acl);  // before recovery and the shard threads
            }
        }
        core.durable = s.durability == config::durability_mode::durable;
        core.db = store::store::open({s.data_dir, core.durable, s.limits.min_free_disk});
        open_archive();  // before recovery: the wills it publishes are history too
        const recovery_summary r = recover(core);
        log::info(
            "store {} ({}): recovered in {} ms: {} retained messages, {} last values, {} persistent sessions "
            "with {} subscriptions and {} queued or in-flight messages; {} wills published ({} not allowed); "
            "{} staged messages written to the history",
            s.data_dir, core.durable ? "durable" : "fast", r.elapsed.count(), r.retained, r.last_values, r.sessions,
            r.subscriptions, r.messages, r.wills, r.wills_denied, r.history);
    }

    ~impl() {
        pool.stop_and_join(std::chrono::milliseconds{0});
        core.running = false;
        core.authn.reset();  // before the io_contexts it posts to are destroyed
        if (core.history) {
            core.history->stop();  // writes what the shards handed over
        }
        // The store's completions post to the shards: nothing may post once they go.
        core.stopping.store(true, std::memory_order_release);
        if (core.db) {
            core.db->stop();
        }
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    /// A damaged or unwritable archive does not stop the broker: live traffic does not
    /// depend on history. It is logged as an error and /healthz reports it degraded.
    void open_archive() {
        const auto& a = core.settings.archive;
        if (a.topics.empty()) {
            return;
        }
        archive::options o;
        o.dir = std::filesystem::path{core.settings.data_dir} / "archive";
        o.flush_interval = a.flush_interval;
        o.retention = a.retention;
        o.max_bytes = a.max_bytes;
        o.max_pending_bytes = static_cast<std::size_t>(a.max_pending_bytes);
        o.min_free_bytes = a.min_free_disk;
        o.on_staged_written = [db = core.db.get()](std::vector<std::string> keys) {
            release_staged(*db, std::move(keys));
        };
        try {
            core.history = archive::archive::open(o);
            log::info("archive {}: keeping {} ({} filters), retention {}, flush every {} ms", o.dir.string(),
                      fmt::join(a.topics, ", "), a.topics.size(),
                      a.retention.count() == 0 ? std::string{"forever"}
                                               : fmt::format("{} h", a.retention.count() / 3'600'000),
                      a.flush_interval.count());
        } catch (const archive::archive_error& e) {
            core.history_error = e.what();
            log::error("{}. vigil runs without history until this is fixed and it restarts", e.what());
        }
    }

    void bind_all() {
        for (const auto& l : core.settings.listeners) {
            std::shared_ptr<const net::tls_context> tls;
            if (l.tls) {
                tls = net::tls_context::make(*l.tls);
            }
            const tcp::endpoint requested{asio::ip::make_address(l.bind), l.port};
            if (const auto ec = net::check_unclaimed(core.shards.front()->context(), requested)) {
                throw std::system_error(
                    ec, fmt::format("cannot listen on {}:{}: {}", l.bind, l.port, net::claimed_advice(ec)));
            }
            std::uint16_t port = l.port;
            for (auto& sh : core.shards) {
                error_code ec;
                tcp::acceptor a = net::listen_shared(sh->context(), {requested.address(), port}, l.backlog, ec);
                if (ec) {
                    throw std::system_error(ec, fmt::format("cannot listen on {}:{}", l.bind, port));
                }
                port = a.local_endpoint().port();
                const double rate = l.max_connection_rate == 0
                                        ? 0.0
                                        : std::max(1.0, double(l.max_connection_rate) / double(core.shards.size()));
                acceptors.push_back(std::make_shared<acceptor>(*sh, static_cast<int>(bound.size()), std::move(a),
                                                               l.allow_anonymous, rate, tls));
            }
            bound.push_back({l.bind, port, l.tls.has_value()});
        }
    }

    // Destruction order matters: acceptors go before their io_contexts, and the pool (the
    // io_contexts and their pending handlers, which own connections) before the shards
    // the connections point to.
    broker_core core;
    push_hub hub{core};
    net::shard_pool pool;
    std::vector<std::shared_ptr<acceptor>> acceptors;
    std::vector<bound_listener> bound;
};

broker::broker(const config::settings& s) : impl_(std::make_unique<impl>(s)) {}

broker::~broker() = default;

void broker::start() {
    impl_->bind_all();
    for (auto& a : impl_->acceptors) {
        asio::post(a->shard_context(), [a] { a->start(); });
    }
    for (auto& sh : impl_->core.shards) {
        asio::post(sh->context(), [s = sh.get()] {
            s->start_expiry();
            s->start_heartbeat();
        });
    }
    impl_->core.running = true;
    impl_->pool.start();
    for (const auto& b : impl_->bound) {
        log::info("listening for MQTT{} on {}:{} ({} shards)", b.tls ? " over TLS" : "", b.address, b.port,
                  impl_->pool.size());
    }
}

const std::vector<bound_listener>& broker::listeners() const noexcept { return impl_->bound; }

void broker::reload(const config::settings& next) {
    // Each file is loaded whole before anything changes; a broken file keeps what is in
    // force and says so. Connections stay unless what they logged in with was revoked; every
    // client is re-checked against the ACL. The paths are read here and at start only (the
    // shards read other settings), so they change on this thread without a lock.
    auto& s = impl_->core.settings;
    s.auth.password_file = next.auth.password_file;
    s.auth.acl_file = next.auth.acl_file;
    for (std::size_t i = 0; i < s.listeners.size() && i < next.listeners.size(); ++i) {
        s.listeners[i].tls = next.listeners[i].tls;
    }
    for (std::size_t i = 0; i < s.http_listeners.size() && i < next.http_listeners.size(); ++i) {
        s.http_listeners[i].tls = next.http_listeners[i].tls;
    }
    int failures = 0;
    std::unordered_set<std::string> revoked_users;
    if (impl_->core.authn) {
        try {
            auto users = auth::password_file::load(s.auth.password_file);
            const std::size_t n = users.size();
            for (auto& u : impl_->core.authn->reload(std::move(users))) {
                revoked_users.insert(std::move(u));
            }
            log::info("reload: password file {}: {} users ({} removed or changed)", s.auth.password_file, n,
                      revoked_users.size());
        } catch (const std::exception& e) {
            ++failures;
            log::error("reload: {}; keeping the previous passwords", e.what());
        }
    }
    if (!s.auth.acl_file.empty()) {
        try {
            auto acl = std::make_shared<const auth::acl>(auth::acl::load(s.auth.acl_file));
            log::info("reload: ACL file {}: {} rules", s.auth.acl_file, acl->rule_count());
            for (auto& sh : impl_->core.shards) {
                asio::post(sh->context(), [sh = sh.get(), acl] { sh->set_acl(acl); });
            }
        } catch (const std::exception& e) {
            ++failures;
            log::error("reload: {}; keeping the previous ACL", e.what());
        }
    }
    // Fresh TLS contexts: new connections use them, and open connections' client
    // certificates are verified again against their CA bundles and CRLs (/mqtt ones too).
    // One per MQTT listener (null: plain, or it failed to load), then the HTTP listeners'.
    std::vector<std::shared_ptr<const net::tls_context>> fresh(s.listeners.size());
    std::size_t first = 0;  // acceptors are stored listener by listener, one per shard
    for (std::size_t li = 0; li < s.listeners.size(); ++li) {
        const auto& l = s.listeners[li];
        const std::size_t n = impl_->pool.size();
        if (l.tls) {
            try {
                auto tls = net::tls_context::make(*l.tls);
                fresh[li] = tls;
                for (std::size_t i = first; i < first + n; ++i) {
                    auto a = impl_->acceptors[i];
                    asio::post(a->shard_context(), [a, tls] { a->set_tls(tls); });
                }
                log::info("reload: TLS certificate {} for {}:{}", l.tls->cert, l.bind, l.port);
            } catch (const std::exception& e) {
                ++failures;
                log::error("reload: {}; keeping the previous certificate for {}:{}", e.what(), l.bind, l.port);
            }
        }
        first += n;
    }
    for (const auto& h : s.http_listeners) {
        if (h.tls) {
            try {
                fresh.push_back(net::tls_context::make(*h.tls));
            } catch (const std::exception& e) {
                log::error("reload: {}; MQTT over WebSocket connections on {}:{} are not re-checked", e.what(), h.bind,
                           h.port);
            }
        }
    }
    for (auto& sh : impl_->core.shards) {
        asio::post(sh->context(), [sh = sh.get(), revoked_users, fresh] { sh->revoke(revoked_users, fresh); });
    }
    log::info("reload done{}", failures == 0 ? std::string{} : fmt::format(" with {} error(s)", failures));
}

void broker::publish_system(std::vector<std::pair<std::string, std::string>> values) {
    shard* first = impl_->core.shards.front().get();
    asio::post(first->context(), [first, values = std::move(values)] {
        for (const auto& [topic, payload] : values) {
            const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(payload.data()),
                                                      payload.size()};
            first->publish_system(message::make(topic, bytes, qos::at_most_once, true));
        }
    });
}

broker_stats broker::stats() const {
    broker_stats total;
    // Every shard is asked at once; one that does not answer in time is counted, not waited
    // for (a wedged shard must not stop the stats line, a scrape or the signal handling).
    std::vector<std::future<broker_stats>> answers;
    for (const auto& sh : impl_->core.shards) {
        auto p = std::make_shared<std::promise<broker_stats>>();
        answers.push_back(p->get_future());
        asio::post(sh->context(), [s = sh.get(), p] {
            broker_stats c = s->counters();
            c.sessions = s->sessions();
            c.loops = {s->loop_stats()};
            p->set_value(c);
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
    const lock_guard lock{impl_->stats_mu};
    impl_->last_answers.resize(answers.size());
    for (std::size_t i = 0; i < answers.size(); ++i) {
        // A shard that does not answer counts with its last answer: counters must never
        // appear to go backwards (Prometheus would read a reset).
        if (answers[i].wait_until(deadline) == std::future_status::ready) {
            impl_->last_answers[i] = answers[i].get();
            impl_->last_answers[i].loops.resize(1);
        } else {
            ++total.shards_unresponsive;
        }
        const broker_stats& c = impl_->last_answers[i];
        total.loops.push_back(c.loops.empty() ? shard_loop_stats{} : c.loops.front());
        for (std::size_t t = 0; t < total.by_transport.size(); ++t) {
            auto& to = total.by_transport[t];
            const auto& from = c.by_transport[t];
            to.open += from.open;
            for (std::size_t q = 0; q < to.messages_in.size(); ++q) {
                to.messages_in[q] += from.messages_in[q];
                to.messages_out[q] += from.messages_out[q];
            }
            to.bytes_in += from.bytes_in;
            to.bytes_out += from.bytes_out;
        }
        for (std::size_t r = 0; r < total.disconnects.size(); ++r) {
            total.disconnects[r] += c.disconnects[r];
        }
        total.connections_accepted += c.connections_accepted;
        total.publishes_in += c.publishes_in;
        total.deliveries += c.deliveries;
        total.dropped_qos0_backpressure += c.dropped_qos0_backpressure;
        total.dropped_queue_full += c.dropped_queue_full;
        total.dropped_qos0_offline += c.dropped_qos0_offline;
        total.protocol_errors += c.protocol_errors;
        total.auth_failures += c.auth_failures;
        total.auth_busy += c.auth_busy;
        total.retained_refused += c.retained_refused;
        total.subscriptions_refused += c.subscriptions_refused;
        total.sessions_refused += c.sessions_refused;
        total.packet_timeouts += c.packet_timeouts;
        total.denied_publishes += c.denied_publishes;
        total.denied_deliveries += c.denied_deliveries;
        total.denied_connects += c.denied_connects;
        total.rejected_connections += c.rejected_connections;
        total.publish_throttled += c.publish_throttled;
        total.sessions += c.sessions;
        total.open_by_listener.resize(c.open_by_listener.size());
        for (std::size_t l = 0; l < c.open_by_listener.size(); ++l) {
            total.open_by_listener[l] += c.open_by_listener[l];
        }
        total.tls_handshakes += c.tls_handshakes;
        total.tls_failures += c.tls_failures;
        total.sessions_expired += c.sessions_expired;
        total.ws_open += c.ws_open;
        total.ws_sent += c.ws_sent;
        total.ws_conflated += c.ws_conflated;
        total.ws_too_slow += c.ws_too_slow;
    }
    total.open_connections = impl_->core.gate->open();
    if (impl_->core.authn) {
        const auto a = impl_->core.authn->stats();
        total.auth_hashed = a.hashed;
        total.auth_dropped = a.dropped;
        total.auth_queued = a.queued;
        total.auth_seconds = a.seconds;
    }
    const auto retained = impl_->core.retained.usage();
    total.retained = retained.count;
    total.retained_bytes = retained.bytes;
    const auto last = impl_->core.last_values.usage();
    total.last_values = last.count;
    total.last_value_bytes = last.bytes;
    total.store = impl_->core.db->stats();
    total.store_healthy = impl_->core.db->healthy();
    if (impl_->core.history) {
        total.archive_on = true;
        total.archive = impl_->core.history->stats();
    }
    return total;
}

std::vector<unsigned> broker::stalled_shards(std::chrono::milliseconds longer_than) const {
    std::vector<unsigned> out;
    const auto now = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < impl_->core.shards.size(); ++i) {
        if (now - impl_->core.shards[i]->last_beat() > longer_than) {
            out.push_back(i);
        }
    }
    return out;
}

void broker::stop(std::chrono::milliseconds grace) {
    for (auto& a : impl_->acceptors) {
        asio::post(a->shard_context(), [a] { a->stop(); });
    }
    for (auto& sh : impl_->core.shards) {
        asio::post(sh->context(), [s = sh.get()] { s->close_all(); });
    }
    impl_->pool.stop_and_join(grace);
    impl_->core.running = false;
    impl_->acceptors.clear();
    // The authenticator thread posts verdicts to the shards' io_contexts: stop it while they
    // still exist (they are destroyed with the pool).
    impl_->core.authn.reset();
    if (impl_->core.history) {
        impl_->core.history->stop();  // writes what the shards handed over
    }
    // Commit what the shards handed over; nothing is acknowledged any more.
    impl_->core.stopping.store(true, std::memory_order_release);
    impl_->core.db->stop();
}

net::shard_pool& broker::shards() noexcept { return impl_->pool; }

router::hub& broker::push() noexcept { return impl_->hub; }

void broker::adopt_websocket(net::socket_handover h) {
    const int cur = net::shard_pool::current();
    shard& sh = *impl_->core.shards[cur >= 0 ? static_cast<std::size_t>(cur) : 0];
    connection::transfer t;
    t.ticket = std::move(h.ticket);  // counted since the HTTP request was accepted
    t.tls = std::move(h.tls);
    t.ws = std::make_unique<net::ws_framing>();
    if (!h.pending.empty() && t.ws->feed(h.pending, t.plaintext) != net::ws_framing::status::ok) {
        ++sh.counters().protocol_errors;
        VIGIL_LOG_LIMITED(info, "an MQTT WebSocket sent bad frames right after its upgrade: {}", t.ws->failure());
        ::close(h.fd);
        return;
    }
    tcp::socket s(sh.context());
    error_code ec;
    s.assign(h.v6 ? tcp::v6() : tcp::v4(), h.fd, ec);
    if (ec) {
        ::close(h.fd);
        return;
    }
    std::make_shared<connection>(sh, std::move(s), h.allow_anonymous, std::move(t))->start();
}

net::connection_gate& broker::gate() noexcept { return *impl_->core.gate; }

broker_health broker::health() const {
    broker_health h;
    h.store_ok = impl_->core.db->healthy();
    if (!h.store_ok) {
        h.store_error = impl_->core.db->last_error();
    }
    h.open_connections = impl_->core.gate->open();
    if (const auto& a = impl_->core.history) {
        const auto st = a->stats();
        h.archive = st.healthy ? broker_health::archive_state::ok : broker_health::archive_state::degraded;
        if (!st.healthy) {
            h.archive_error = a->last_error();
        }
    } else if (!impl_->core.history_error.empty()) {
        h.archive = broker_health::archive_state::degraded;
        h.archive_error = impl_->core.history_error;
    }
    return h;
}

std::optional<archive::page> broker::history(const archive::query& q,
                                             const std::function<bool(std::string_view)>& may_read) const {
    if (!impl_->core.history) {
        return std::nullopt;
    }
    return impl_->core.history->read(q, may_read);
}

broker::client_list broker::connected_clients(std::size_t limit) const {
    return mqtt::connected_clients(impl_->core, limit);
}

broker::session_lookup broker::find_session(const std::string& client_id) const {
    return mqtt::find_session(impl_->core, client_id);
}

broker::admin_result broker::disconnect_client(const std::string& client_id, bool discard) const {
    return mqtt::disconnect_client(impl_->core, client_id, discard);
}

std::vector<message_ref> broker::retained(std::string_view filter) const { return impl_->core.retained.match(filter); }

broker::admin_result broker::clear_retained(const std::string& topic) const {
    return mqtt::clear_retained(impl_->core, topic);
}

broker::backup_result broker::backup(const std::filesystem::path& dir, const std::filesystem::path& archive_dir,
                                     std::string_view label) const {
    backup_result r{impl_->core.db->backup(dir, label), std::nullopt};
    if (impl_->core.history) {
        r.archive = impl_->core.history->backup(archive_dir, fmt::format("store backup {}", r.store.id));
    }
    return r;
}

std::vector<message_ref> broker::last_values(std::string_view filter) const {
    return impl_->core.last_values.match(filter);
}

}  // namespace vigil::mqtt
