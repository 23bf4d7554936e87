// A shard's side of durability: one store batch per loop pass, acknowledgements held until
// the batches they depend on are committed (durable mode), and write-through of session
// state, subscriptions, retained messages and last values.
#include "connection.hpp"
#include "shard.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/store/records.hpp>

#include <boost/asio/post.hpp>

#include <utility>

namespace vigil::mqtt {

using store::family;

ack_barrier::~ack_barrier() {
    if (origin_.core().stopping.load(std::memory_order_acquire)) {
        return;  // the shards are going away; the clients will resend what is unacknowledged
    }
    shard* s = &origin_;
    asio::post(s->context(), [s, seq = seq_, acks = std::move(acks_), cbs = std::move(callbacks_),
                              failed = failed_.load(std::memory_order_relaxed)]() mutable {
        s->release(seq, std::move(acks), std::move(cbs), failed);
    });
}

store::write_batch& shard::batch() {
    schedule_commit();
    return pass_batch_;
}

std::shared_ptr<ack_barrier> shard::current_barrier() {
    if (!barrier_) {
        barrier_ = std::make_shared<ack_barrier>(*this, next_barrier_++);
        schedule_commit();
    }
    return barrier_;
}

void shard::schedule_commit() {
    if (!commit_scheduled_) {
        commit_scheduled_ = true;
        asio::post(ioc_, [this] { commit(); });
    }
}

void shard::flush_last_values() {
    for (const auto& first : last_values_changed_) {
        const auto topic = first->topic();
        const auto newest = core_.last_values.take_changed(topic);
        if (!newest) {
            continue;  // another shard wrote it through already
        }
        if (*newest) {
            batch().put(family::last_value, std::string{topic}, store::encode_message(**newest));
        } else {
            batch().erase(family::last_value, std::string{topic});
        }
    }
    last_values_changed_.clear();
}

void shard::commit() {
    commit_scheduled_ = false;
    if (barrier_) {
        held_.push_back(std::move(barrier_));
        barrier_.reset();
    }
    if (pass_batch_.empty()) {
        held_.clear();  // nothing of this pass to wait for
        if (!pass_uncommitted_.empty()) {
            const auto msgs = std::exchange(pass_uncommitted_, {});
            release_held(msgs);
        }
        return;
    }
    pass_batch_.set_sync(!held_.empty() || !pass_uncommitted_.empty());
    core_.db->submit(std::move(pass_batch_),
                     [this, held = std::move(held_), msgs = std::exchange(pass_uncommitted_, {})](bool ok) mutable {
                         if (!ok) {
                             for (auto& b : held) {
                                 b->fail();
                             }
                         }
                         held.clear();  // on the store thread: the last holder posts the acks to their shard
                         // After a failed commit too: the publisher is disconnected and sends again, and a
                         // store that failed once keeps nothing more, so no copy is recognised anyway.
                         if (!msgs.empty() && !core_.stopping.load(std::memory_order_acquire)) {
                             asio::post(ioc_, [this, msgs = std::move(msgs)] { release_held(msgs); });
                         }
                     });
    pass_batch_ = store::write_batch{};
    held_.clear();
    if (!archive_staged_.empty()) {
        // After the submit: the archive's erase of a staged copy is queued behind its put.
        core_.history->append(std::exchange(archive_staged_, {}));
    }
}

void shard::hold_until_commit(const message_ref& m) {
    if (uncommitted_.insert(m.get()).second) {
        pass_uncommitted_.push_back(m);
        schedule_commit();
    }
}

bool shard::hold(client& c, const send_publish& p) {
    if (c.held.empty() && (uncommitted_.empty() || !uncommitted_.contains(p.msg.get()))) {
        return false;
    }
    if (c.held.empty()) {
        holding_.push_back(&c);
    }
    c.held.push_back(p);
    return true;
}

void shard::release_held(const std::vector<message_ref>& committed) {
    for (const auto& m : committed) {
        uncommitted_.erase(m.get());
    }
    std::erase_if(holding_, [this](client* c) {
        while (!c->held.empty() && !uncommitted_.contains(c->held.front().msg.get())) {
            const send_publish p = std::move(c->held.front());
            c->held.pop_front();
            if (c->sink != nullptr) {
                c->sink->deliver(p.msg);
            } else if (c->conn != nullptr) {
                c->conn->transmit(p);
            }
        }
        return c->held.empty();
    });
}

void shard::defer_ack(connection& c, packet p) { current_barrier()->add(c.weak_from_this(), std::move(p)); }

void shard::after_commit(std::function<void(bool)> done) {
    expect_here();
    if (!core_.durable) {
        done(true);
        return;
    }
    current_barrier()->add(std::move(done));
}

void shard::release(std::uint64_t seq, std::vector<ack_barrier::pending_ack> acks,
                    std::vector<std::function<void(bool)>> callbacks, bool failed) {
    // Barriers complete out of order when they wait on different shards; acks go out in
    // the order their packets arrived.
    released_.arrive(seq, released_barrier{std::move(acks), std::move(callbacks), failed}, [](released_barrier& b) {
        for (auto& a : b.acks) {
            if (auto c = a.conn.lock()) {
                if (b.failed) {
                    c->ack_failed();
                } else {
                    c->release_ack(a.p);
                }
            }
        }
        for (auto& done : b.callbacks) {
            done(!b.failed);
        }
    });
}

void shard::persist(const client& c, const action& a) {
    const std::string& id = c.sess.client_id();
    if (const auto* m = std::get_if<store_message>(&a)) {
        batch().put(family::queue, store::queue_key(id, m->seq),
                    store::encode_queue_record({m->q, m->retain, m->packet_id, m->released, m->msg}));
    } else if (const auto* e = std::get_if<erase_message>(&a)) {
        batch().erase(family::queue, store::queue_key(id, e->seq));
    } else if (const auto* in = std::get_if<store_inbound>(&a)) {
        if (in->present) {
            batch().put(family::inbound, store::inbound_key(id, in->packet_id), {});
        } else {
            batch().erase(family::inbound, store::inbound_key(id, in->packet_id));
        }
    }
}

void shard::persist_subscription(const client& c, const std::string& filter, qos q) {
    batch().put(family::subscriptions, store::subscription_key(c.sess.client_id(), filter),
                std::string(1, static_cast<char>(q)));
}

void shard::persist_unsubscription(const client& c, const std::string& filter) {
    batch().erase(family::subscriptions, store::subscription_key(c.sess.client_id(), filter));
}

void shard::persist_session(const client& c, const message_ref& will) {
    std::optional<std::string> owner;
    if (c.owner_known) {
        owner = c.owner;
    }
    batch().put(family::sessions, store::client_prefix(c.sess.client_id()),
                store::encode_session_record({will, std::move(owner)}));
}

void shard::update_state(const message_ref& m) {
    for (const auto& f : core_.settings.state.topics) {
        if (topic::matches(f, m->topic())) {
            // Written through every last_value_flush (the newest per topic), not per message:
            // no acknowledgement depends on a last value.
            if (!core_.last_values.update(m)) {
                return;  // already waiting for a write-through
            }
            last_values_changed_.push_back(m);
            if (!last_values_timer_armed_) {
                // The handler owns its timer, so a timer never outlives its io_context.
                last_values_timer_armed_ = true;
                auto t = std::make_shared<asio::steady_timer>(ioc_, last_value_flush);
                t->async_wait([this, t](error_code) {
                    last_values_timer_armed_ = false;
                    flush_last_values();
                });
            }
            return;
        }
    }
}

client& shard::restore_client(const std::string& id, std::optional<std::string> owner,
                              std::vector<restored_message> messages, std::vector<std::uint16_t> inbound,
                              const std::vector<std::pair<std::string, qos>>& subs) {
    client& c = create_client(id, true);
    c.sess.restore(std::move(messages), std::move(inbound), subs);
    c.owner_known = owner.has_value();
    c.owner = owner.value_or(std::string{});
    if (c.owner_known) {
        core_.owners.add(c.owner);  // counted, whatever the bound: it exists already
    }
    for (const auto& [f, q] : subs) {
        subscribe(c, f, q, false);
    }
    // The rules in force judge what it was given before (queued under older rules, or
    // stored without an owner: nothing until its identity connects).
    set_permissions(c, c.owner_known
                           ? permissions_for(c.owner, id)
                           : std::make_shared<const auth::permissions>(std::vector<auth::permissions::rule>{}, true));
    return c;
}

}  // namespace vigil::mqtt
