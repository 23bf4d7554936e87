// CONNECT handling of a connection: checks, authentication (passwords off the shard, or the
// TLS client certificate), session creation or takeover, and the ACL hooks.
#include "connection.hpp"

#include <vigil/core/log.hpp>
#include <vigil/core/overloaded.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <variant>

namespace vigil::mqtt {

bool connection::tls_identity_as_username() const { return tls_->settings().use_identity_as_username; }

void connection::handle_connect(const connect_packet& c) {
    login_context ctx;
    ctx.identity_as_username = tls_ && tls_identity_as_username();
    if (ctx.identity_as_username) {
        ctx.tls_identity = tls_->peer_identity();  // mutual TLS: the verified certificate is the credential
    }
    ctx.passwords = shard_.core().authn != nullptr;
    ctx.allow_anonymous = allow_anonymous_;
    const auto fields = [&] {  // of a CONNECT that gets past the refusals
        accepted_connect ac;
        ac.client_id = c.client_id.empty() ? shard_.assign_client_id() : std::string{c.client_id};
        ac.clean_session = c.clean_session;
        ac.keep_alive = c.keep_alive;
        ac.mqtt31 = is_mqtt31(c);
        if (c.will) {
            ac.will = message::make(c.will->topic, c.will->payload, c.will->q, c.will->retain);
        }
        return ac;
    };
    std::visit(overloaded{[&](const login_refused& r) { refuse(r.code, r.reason); },
                          [&](login_accepted&& a) {
                              accepted_connect ac = fields();
                              ac.username = std::move(a.username);
                              accept(std::move(ac));
                          },
                          [&](login_check_password&& p) { login_with_password(fields(), std::move(p)); }},
               plan_login(c, ctx));
}

void connection::login_with_password(accepted_connect ac, login_check_password p) {
    ac.username = std::move(p.username);
    ac.by_password = true;
    if (shard_.core().authn->cached(ac.username, p.password)) {
        accept(std::move(ac));
        return;
    }
    phase_ = phase::authenticating;
    // An address with recent failures waits before its check is even queued (password
    // guessing costs the guesser time, not the server CPU).
    const auto wait = shard_.core().logins.delay(peer_addr_);
    if (wait.count() == 0) {
        check_password(std::move(ac), p.password);
        return;
    }
    timer_.expires_after(wait);
    timer_.async_wait(
        [self = shared_from_this(), ac = std::move(ac), password = std::move(p.password)](error_code ec) mutable {
            if (!ec && self->phase_ == phase::authenticating) {
                self->arm_next_deadline();  // the CONNECT's
                self->check_password(std::move(ac), password);
            }
        });
}

void connection::check_password(accepted_connect ac, const std::string& password) {
    auth::check_request r{ac.username, password, peer_addr_, weak_from_this()};
    // The callback runs on a hashing thread: it holds only a weak reference, so the
    // connection is never destroyed there, and hands the verdict to the shard. While the
    // check waits the connection keeps reading (continue_input), so a client that goes away
    // is noticed and its check dropped.
    const bool queued = shard_.core().authn->verify_async(
        std::move(r), [weak = weak_from_this(), ctx = &shard_.context(), ac](bool ok) mutable {
            asio::post(*ctx, [weak, ok, ac = std::move(ac)]() mutable {
                if (auto self = weak.lock()) {
                    self->on_authenticated(ok, std::move(ac));
                }
            });
        });
    if (!queued) {
        ++shard_.counters().auth_busy;
        VIGIL_LOG_LIMITED(warn, "{}: too many password checks waiting (for this address or in all): CONNACK 0x03",
                          peer_);
        refuse(connect_code::server_unavailable, make_error_code(errc::server_busy));
        return;
    }
    continue_input();  // reads on (bounded) to notice a close
}

void connection::on_authenticated(bool ok, accepted_connect ac) {
    if (phase_ != phase::authenticating) {
        return;  // closed meanwhile (connect timeout, server stopping)
    }
    if (!ok) {
        ++shard_.counters().auth_failures;
        log::info("{}: login of client '{}' refused: bad username or password for user {}: CONNACK 0x04", peer_,
                  ac.client_id, identity_of(ac.username));
        shard_.core().logins.failed(peer_addr_);  // its next attempt waits before hashing
        refuse(connect_code::bad_username_or_password, make_error_code(errc::bad_credentials));
        return;
    }
    shard_.core().logins.succeeded(peer_addr_);
    rx_begin_ += connect_size_;
    accept(std::move(ac));
    continue_input();
}

void connection::refuse(connect_code code, error_code reason) {
    send_control(connack_packet{false, code});  // [MQTT-3.2.2-4]
    close_after_flush(reason);
}

bool connection::is_probe(const accepted_connect& ac) {
    const auto& probe = shard_.core().settings.probe;
    if (probe.interval.count() <= 0 || ac.client_id != probe.client_id || ac.username != probe.username) {
        return false;
    }
    // Vigil connects to itself: from a loopback address, or from the address it connected to.
    error_code ec;
    const auto peer = sock_.remote_endpoint(ec).address();
    const auto local = ec ? asio::ip::address{} : sock_.local_endpoint(ec).address();
    return !ec && (peer.is_loopback() || peer == local);
}

std::string connection::session_refusal(const accepted_connect& ac, const auth::permissions* perms) {
    const std::string& id = ac.client_id;
    if (const auto& probe = shard_.core().settings.probe;
        probe.interval.count() > 0 && id == probe.client_id && !is_probe(ac)) {
        return fmt::format("client id '{}' is reserved for Vigil's end-to-end probe (probe.client_id)", id);
    }
    if (shard_.core().settings.auth.client_id_must_match && id != ac.username) {
        return fmt::format("client id '{}' is not its identity '{}' (client_id_must_match)", id, ac.username);
    }
    if (ac.will) {
        const std::string_view t = ac.will->topic();
        if (perms != nullptr ? !perms->may_write(t) : t.starts_with('$')) {
            return fmt::format("it may not publish its will to '{}'", t);
        }
    }
    return {};
}

void connection::describe(client_info& into) const {
    into.address = peer_;
    into.transport = transport_names[static_cast<std::size_t>(transport_)];
    into.listener = listener_;
    into.since_ms = since_ms_;
}

void connection::accept(accepted_connect ac) {
    const std::string& id = ac.client_id;
    auto perms = shard_.permissions_for(ac.username, id);
    client* existing = shard_.find_client(id);
    std::optional<existing_session> held;
    if (existing != nullptr) {
        held.emplace();
        held->persistent = existing->sess.persistent();
        held->online = existing->conn != nullptr;
        held->held_by_dashboard = existing->sink != nullptr;
        if (existing->owner_known) {
            held->owner = existing->owner;
        }
    }
    const session_plan plan = plan_session(id, ac.clean_session, ac.username, held);
    if (std::string why = session_refusal(ac, perms.get()); !why.empty() || !plan.refusal.empty()) {
        ++shard_.counters().denied_connects;
        VIGIL_LOG_LIMITED(warn, "{}: CONNECT of client '{}' (identity '{}') refused: {}: CONNACK 0x05", peer_, id,
                          ac.username, why.empty() ? plan.refusal : why);
        refuse(connect_code::not_authorized, make_error_code(errc::not_authorized));
        return;
    }
    if (plan.counts_toward_identity) {
        const std::size_t max = shard_.core().settings.limits.max_sessions_per_identity;
        if (!shard_.core().owners.try_add(ac.username, max)) {
            ++shard_.counters().sessions_refused;
            VIGIL_LOG_LIMITED(warn,
                              "{}: CONNECT of client '{}' refused: identity '{}' has max_sessions_per_identity ({}) "
                              "persistent sessions: CONNACK 0x05",
                              peer_, id, ac.username, max);
            refuse(connect_code::not_authorized, make_error_code(errc::not_authorized));
            return;
        }
    }
    if (plan.close_old && existing != nullptr && existing->conn != nullptr) {
        existing->conn->close(plan.close_old);  // takeover [MQTT-3.1.4-2]
        existing = shard_.find_client(id);      // a clean session ended with its connection
    }
    bool present = false;
    switch (plan.session) {
        case session_plan::take::new_clean:
            if (plan.discard_existing && existing != nullptr) {
                shard_.remove_client(*existing);  // [MQTT-3.1.2-6]
            }
            client_ = &shard_.create_client(id, false);
            break;
        case session_plan::take::resume:
            if (existing != nullptr) {
                client_ = existing;
                present = true;  // [MQTT-3.2.2-2]
                break;
            }
            [[fallthrough]];
        case session_plan::take::new_persistent:
            client_ = &shard_.create_client(id, true);
            break;
    }
    client_->conn = this;
    client_->owner = ac.username;
    client_->owner_known = true;
    will_ = std::move(ac.will);
    if (client_->sess.persistent()) {
        shard_.persist_session(*client_, will_);
    }
    username_ = std::move(ac.username);
    password_login_ = ac.by_password;
    quota_owner_ = quota_owner(username_, id);
    deadlines_.accepted(std::chrono::seconds{ac.keep_alive});
    phase_ = phase::active;
    since_ms_ =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (is_probe(ac)) {
        // Vigil's own end-to-end probe: its traffic is counted apart from the users'.
        --traffic().open;
        transport_ = transport::probe;
        ++traffic().open;
    }
    ++shard_.counters().connections_accepted;
    // The audit trail (the probe's rounds stay out of it).
    if (transport_ == transport::probe) {
        log::debug("{}: client '{}' connected (the end-to-end probe)", peer_, id);
    } else {
        log::info("{}: client '{}' connected (identity {}, {}, clean={}, keep-alive={}s)", peer_, id,
                  identity_of(username_), transport_names[static_cast<std::size_t>(transport_)], ac.clean_session,
                  ac.keep_alive);
    }
    send_control(connack_packet{present && !ac.mqtt31, connect_code::accepted});  // 3.1 has no such flag
    timer_.cancel();
    timer_due_.reset();
    arm_next_deadline();  // the keep-alive's, if it has one
    // Rights of this identity now; queued messages it may no longer read are dropped.
    if (const std::size_t dropped = shard_.set_permissions(*client_, std::move(perms)); dropped > 0) {
        log::info("{}: client '{}': {} queued messages it may no longer read were dropped", peer_, id, dropped);
    }
    acts_.clear();
    client_->sess.attach(acts_, this);
    execute(acts_);
}

bool connection::recheck_credentials(const std::unordered_set<std::string>& users,
                                     const std::vector<std::shared_ptr<const net::tls_context>>& fresh) {
    if (phase_ != phase::active) {
        return true;
    }
    std::string why;
    if (password_login_ && users.count(username_) != 0) {
        why = fmt::format("the password of user '{}' was removed or changed", username_);
    } else if (tls_) {
        // The fresh context of the listener it came through (a CA bundle or CRL may have been
        // changed or added); /mqtt: the HTTP listener's that serves the same certificate.
        const std::size_t mqtt_listeners = shard_.core().settings.listeners.size();
        const net::tls_context* ctx = nullptr;
        if (listener_ >= 0 && static_cast<std::size_t>(listener_) < std::min(mqtt_listeners, fresh.size())) {
            ctx = fresh[static_cast<std::size_t>(listener_)].get();
        } else if (mqtt_listeners <= fresh.size()) {
            const auto it =
                std::find_if(fresh.begin() + static_cast<std::ptrdiff_t>(mqtt_listeners), fresh.end(),
                             [this](const auto& f) { return f && f->settings().cert == tls_->settings().cert; });
            ctx = it != fresh.end() ? it->get() : nullptr;
        }
        if (ctx != nullptr) {
            if (std::string bad = tls_->recheck_peer(*ctx); !bad.empty()) {
                why = fmt::format("its client certificate no longer verifies: {}", bad);
            }
        }
    }
    if (why.empty()) {
        return true;
    }
    log::warn("{}: closing the connection of client '{}' (identity '{}'): {}", peer_, client_->sess.client_id(),
              username_, why);
    close(make_error_code(errc::credentials_revoked));
    return false;
}

bool connection::may_publish(std::string_view topic) const {
    const bool ok = client_->may_write(topic);
    if (!ok) {
        ++shard_.counters().denied_publishes;
        VIGIL_LOG_LIMITED(warn, "{}: client '{}' (user '{}') may not publish to '{}': dropped", peer_,
                          client_->sess.client_id(), username_, topic);
    }
    return ok;
}

subscribe_grant connection::may_subscribe(std::string_view filter) const {
    const auto& subs = client_->sess.subscriptions();
    const std::size_t max = shard_.core().settings.limits.max_subscriptions;
    if (subs.size() >= max && subs.find(filter) == subs.end()) {
        ++shard_.counters().subscriptions_refused;
        VIGIL_LOG_LIMITED(warn, "{}: client '{}' has max_subscriptions ({}) filters: '{}' refused (SUBACK 0x80)", peer_,
                          client_->sess.client_id(), max, filter);
        return subscribe_grant::refused;
    }
    if (!client_->perms) {
        return subscribe_grant::full;
    }
    switch (client_->perms->scope_of(filter)) {
        case auth::read_scope::all:
            return subscribe_grant::full;
        case auth::read_scope::some:
            return subscribe_grant::checked;
        case auth::read_scope::none:
            break;
    }
    VIGIL_LOG_LIMITED(warn, "{}: client '{}' (user '{}') may not read any topic of '{}': SUBACK 0x80", peer_,
                      client_->sess.client_id(), username_, filter);
    return subscribe_grant::refused;
}

}  // namespace vigil::mqtt
