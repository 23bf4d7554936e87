// Restores the broker's state from the store before any listener opens.
#include "recovery.hpp"

#include <vigil/core/log.hpp>
#include <vigil/store/records.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace vigil::mqtt {
namespace {

struct recovered_session {
    message_ref will;
    std::optional<std::string> owner;
    std::vector<restored_message> messages;
    std::vector<std::uint16_t> inbound;
    std::vector<std::pair<std::string, qos>> subs;
};

[[noreturn]] void corrupt(const broker_core& core, std::string_view fam, std::string_view what) {
    throw store::store_error(
        fmt::format("data_dir {}: a {} record is damaged ({}). Nothing was discarded. What to do: run `vigil db check "
                    "{}`; restore data_dir from a backup, or move it aside to start empty",
                    core.settings.data_dir, fam, what, core.settings.data_dir));
}

std::string printable(std::string_view key) {
    std::string out;
    for (const char c : key.substr(0, 64)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

/// Writes to the archive the acknowledged messages the store staged for it when the broker
/// stopped (a crash), a chunk at a time, and lets the store's copies go; keeps them while there
/// is no archive to take them. Returns how many were written.
std::size_t restore_history(broker_core& core) {
    constexpr std::size_t chunk = 10'000;
    std::vector<archive::encoded> staged;
    std::size_t restored = 0;
    std::size_t waiting = 0;
    bool failed = false;
    auto write = [&] {
        if (failed || !core.history->restore(staged)) {
            failed = true;
            waiting += staged.size();
        } else {
            std::vector<std::string> keys;
            for (auto& e : staged) {
                keys.push_back(std::move(e.key));
            }
            release_staged(*core.db, std::move(keys));
            restored += staged.size();
        }
        staged.clear();
    };
    core.db->for_each(store::family::history, [&](std::string_view k, std::string_view v) {
        if (!core.history) {
            ++waiting;
            return;
        }
        staged.push_back({std::string{k}, std::string{v}});
        if (staged.size() == chunk) {
            write();
        }
    });
    if (!staged.empty()) {
        write();
    }
    if (waiting > 0) {
        log::warn(
            "recovery: {} acknowledged messages staged for the history stay in the store until the archive can take "
            "them ({})",
            waiting, core.history ? "writing them failed" : "the archive is off or could not be opened");
    }
    return restored;
}

}  // namespace

void release_staged(store::store& db, std::vector<std::string> keys) {
    store::write_batch b;
    for (auto& k : keys) {
        b.erase(store::family::history, std::move(k));
    }
    b.set_sync(false);
    db.submit(std::move(b), [](bool) {});
}

recovery_summary recover(broker_core& core) {
    using store::family;
    const auto t0 = std::chrono::steady_clock::now();
    recovery_summary r;
    store::store& db = *core.db;

    r.history = restore_history(core);

    db.for_each(family::retained, [&](std::string_view k, std::string_view v) {
        auto m = store::decode_message(v);
        if (!m || m->topic() != k) {
            corrupt(core, "retained", printable(k));
        }
        core.retained.restore(m);
        core.retained_quotas->restore(*m);
        ++r.retained;
    });
    db.for_each(family::last_value, [&](std::string_view k, std::string_view v) {
        auto m = store::decode_message(v);
        if (!m || m->topic() != k) {
            corrupt(core, "last_value", printable(k));
        }
        core.last_values.restore(m);
        ++r.last_values;
    });

    // Sessions: a client id found in any per-client family has a session, even when its
    // session record was not yet committed.
    std::map<std::string, recovered_session, std::less<>> sessions;
    auto session_of = [&](std::string_view key,
                          std::string_view fam) -> std::pair<recovered_session*, std::string_view> {
        const auto ck = store::split_client_key(key);
        if (!ck || ck->client_id.empty()) {
            corrupt(core, fam, printable(key));
        }
        auto it = sessions.find(ck->client_id);
        if (it == sessions.end()) {
            it = sessions.emplace(std::string{ck->client_id}, recovered_session{}).first;
        }
        return {&it->second, ck->rest};
    };
    db.for_each(family::sessions, [&](std::string_view k, std::string_view v) {
        auto [s, rest] = session_of(k, "sessions");
        const auto rec = store::decode_session_record(v);
        if (!rec || !rest.empty()) {
            corrupt(core, "sessions", printable(k));
        }
        s->will = rec->will;
        s->owner = rec->owner;
    });
    db.for_each(family::subscriptions, [&](std::string_view k, std::string_view v) {
        auto [s, filter] = session_of(k, "subscriptions");
        if (v.size() != 1 || static_cast<unsigned char>(v[0]) > 2 || filter.empty()) {
            corrupt(core, "subscriptions", printable(k));
        }
        s->subs.emplace_back(std::string{filter}, static_cast<qos>(v[0]));
        ++r.subscriptions;
    });
    db.for_each(family::queue, [&](std::string_view k, std::string_view v) {
        auto [s, rest] = session_of(k, "queue");
        const auto seq = store::decode_u64(rest);
        auto rec = store::decode_queue_record(v);
        if (!seq || !rec) {
            corrupt(core, "queue", printable(k));
        }
        s->messages.push_back({*seq, std::move(rec->msg), rec->q, rec->retain, rec->packet_id, rec->released});
        ++r.messages;
    });
    db.for_each(family::inbound, [&](std::string_view k, std::string_view) {
        auto [s, rest] = session_of(k, "inbound");
        const auto id = store::decode_u16(rest);
        if (!id) {
            corrupt(core, "inbound", printable(k));
        }
        s->inbound.push_back(*id);
    });

    // The shard threads are not running yet: this thread may touch every shard.
    struct will_to_publish {
        shard* home;
        client* c;
        message_ref will;
    };
    std::vector<will_to_publish> with_will;
    for (auto& [id, rs] : sessions) {
        shard& home = *core.shards[core.shards.front()->home_of(id)];
        client& c =
            home.restore_client(id, std::move(rs.owner), std::move(rs.messages), std::move(rs.inbound), rs.subs);
        ++r.sessions;
        if (rs.will) {
            with_will.push_back({&home, &c, std::move(rs.will)});
        }
    }
    // The devices of these sessions were connected when the broker went down: their
    // connections ended without DISCONNECT, so their wills go out [MQTT-3.1.2-8].
    // Each will is checked against the rules in force now, with its session's identity.
    for (const auto& w : with_will) {
        w.home->persist_session(*w.c, nullptr);
        if (!w.c->may_write(w.will->topic())) {
            ++r.wills_denied;
            log::warn(
                "recovery: the will of client '{}' (identity '{}') on '{}' is not allowed by the rules in force: not "
                "published",
                w.c->sess.client_id(), w.c->owner_known ? w.c->owner : std::string{"unknown"}, w.will->topic());
            continue;
        }
        const std::string owner = quota_owner(w.c->owner_known ? w.c->owner : std::string{}, w.c->sess.client_id());
        const auto& m = *w.will;  // stamped now: the device is known to be gone from now on
        w.home->route(message::make(m.topic(), m.payload(), m.published_qos(), m.retain()), &owner,
                      w.c->sess.client_id());
        ++r.wills;
    }
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return r;
}

}  // namespace vigil::mqtt
