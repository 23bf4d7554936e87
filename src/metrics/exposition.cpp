// The metric families of a scrape, serialized by prometheus-cpp's text serializer.

#include <vigil/metrics/exposition.hpp>

#include <fmt/format.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace vigil::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using labels = std::vector<ClientMetric::Label>;

class families {
public:
    void counter(std::string name, std::string help, double value, labels l = {}) {
        ClientMetric m;
        m.label = std::move(l);
        m.counter.value = value;
        add(std::move(name), std::move(help), MetricType::Counter, std::move(m));
    }
    void gauge(std::string name, std::string help, double value, labels l = {}) {
        ClientMetric m;
        m.label = std::move(l);
        m.gauge.value = value;
        add(std::move(name), std::move(help), MetricType::Gauge, std::move(m));
    }
    template <const auto& Bounds>
    void histogram(std::string name, std::string help, const vigil::histogram<Bounds>& h, labels l = {}) {
        ClientMetric m;
        m.label = std::move(l);
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < Bounds.size(); ++i) {
            cumulative += h.counts()[i];
            m.histogram.bucket.push_back({cumulative, Bounds[i]});
        }
        cumulative += h.counts().back();
        m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
        m.histogram.sample_count = cumulative;
        m.histogram.sample_sum = h.sum();
        add(std::move(name), std::move(help), MetricType::Histogram, std::move(m));
    }

    [[nodiscard]] std::string text() const {
        std::ostringstream out;
        prometheus::TextSerializer{}.Serialize(out, all_);
        return std::move(out).str();
    }

private:
    /// Metrics of one name (differing in labels) are added one after another into one family.
    void add(std::string name, std::string help, MetricType type, ClientMetric m) {
        if (all_.empty() || all_.back().name != name) {
            all_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
        }
        all_.back().metric.push_back(std::move(m));
    }

    std::vector<MetricFamily> all_;
};

template <class Int>
double num(Int v) {
    return static_cast<double>(v);
}

void broker_families(families& f, const mqtt::broker_stats& b) {
    f.gauge("vigil_connections", "Open connections (MQTT, MQTT over WebSocket, HTTP and /ws).",
            num(b.open_connections));
    f.counter("vigil_connects_total", "MQTT CONNECTs accepted.", num(b.connections_accepted));
    const char* refused =
        "Connections refused, by reason: over max_connections or a connection rate (limit), the ACL or session "
        "ownership (denied), a bad username or password (auth_failure), the password-check queue full (auth_busy).";
    f.counter("vigil_connects_refused_total", refused, num(b.rejected_connections), {{"reason", "limit"}});
    f.counter("vigil_connects_refused_total", refused, num(b.denied_connects), {{"reason", "denied"}});
    f.counter("vigil_connects_refused_total", refused, num(b.auth_failures), {{"reason", "auth_failure"}});
    f.counter("vigil_connects_refused_total", refused, num(b.auth_busy), {{"reason", "auth_busy"}});
    f.counter("vigil_protocol_errors_total", "Connections closed for breaking the MQTT protocol.",
              num(b.protocol_errors));
    f.counter("vigil_packet_timeouts_total",
              "Connections closed because a packet was not completed within packet_timeout.", num(b.packet_timeouts));
    f.counter("vigil_messages_received_total", "Messages routed: client PUBLISHes (MQTT, /mqtt, /ws) and wills.",
              num(b.publishes_in));
    f.counter("vigil_messages_delivered_total", "Messages handed to subscribers' sessions.", num(b.deliveries));
    const char* dropped =
        "Messages not delivered, by reason: a QoS 0 message to a client too slow to take it (slow_client), a QoS 1/2 "
        "message for a session whose queue was full (queue_full), a QoS 0 message for an offline persistent session "
        "(offline_qos0), a PUBLISH the ACL refused (denied_publish), a message the subscriber (MQTT or /ws) may not "
        "read (denied_delivery), an older state value replaced by a newer one for a slow /ws dashboard (conflated).";
    f.counter("vigil_messages_dropped_total", dropped, num(b.dropped_qos0_backpressure), {{"reason", "slow_client"}});
    f.counter("vigil_messages_dropped_total", dropped, num(b.dropped_queue_full), {{"reason", "queue_full"}});
    f.counter("vigil_messages_dropped_total", dropped, num(b.dropped_qos0_offline), {{"reason", "offline_qos0"}});
    f.counter("vigil_messages_dropped_total", dropped, num(b.denied_publishes), {{"reason", "denied_publish"}});
    f.counter("vigil_messages_dropped_total", dropped, num(b.denied_deliveries), {{"reason", "denied_delivery"}});
    f.counter("vigil_messages_dropped_total", dropped, num(b.ws_conflated), {{"reason", "conflated"}});
    f.gauge("vigil_ws_connections", "/ws dashboards connected (JSON push protocol).", static_cast<double>(b.ws_open));
    f.counter("vigil_ws_messages_sent_total", "Live messages queued to /ws dashboards.", num(b.ws_sent));
    f.counter("vigil_ws_closed_too_slow_total",
              "/ws dashboards closed with 1013: too far behind (events past the hard bound).", num(b.ws_too_slow));
    f.counter("vigil_publish_throttled_total", "Times a client's reads were paused by max_publish_rate.",
              num(b.publish_throttled));
    const char* limits =
        "Requests refused by a limit: a subscription over max_subscriptions, a persistent session over "
        "max_sessions_per_identity, a retained message over its quota or with the disk low.";
    f.counter("vigil_limit_refusals_total", limits, num(b.subscriptions_refused), {{"limit", "max_subscriptions"}});
    f.counter("vigil_limit_refusals_total", limits, num(b.sessions_refused), {{"limit", "max_sessions_per_identity"}});
    f.counter("vigil_limit_refusals_total", limits, num(b.retained_refused), {{"limit", "retained"}});
    const char* persistent =
        "Persistent sessions (clean session 0) held: with a connection (online) or waiting for their client (offline).";
    f.gauge("vigil_sessions_persistent", persistent, num(b.sessions.persistent_online), {{"state", "online"}});
    f.gauge("vigil_sessions_persistent", persistent, num(b.sessions.persistent_offline), {{"state", "offline"}});
    f.gauge("vigil_subscriptions", "Subscriptions of every session (MQTT and /ws).", num(b.sessions.subscriptions));
    f.gauge("vigil_messages_queued",
            "QoS 1 and 2 messages waiting in sessions: behind the in-flight window or for an offline client.",
            num(b.sessions.queued));
    f.gauge("vigil_messages_queued_bytes", "Payload bytes of the queued messages.", num(b.sessions.queued_bytes));
    f.gauge("vigil_messages_inflight", "QoS 1 and 2 messages sent and not yet acknowledged.", num(b.sessions.inflight));
    f.counter("vigil_sessions_expired_total", "Persistent sessions discarded by session_expiry.",
              num(b.sessions_expired));
    f.gauge("vigil_retained_messages", "Retained messages held ($SYS included).", num(b.retained));
    f.gauge("vigil_retained_bytes", "Topic and payload bytes of the retained messages.", num(b.retained_bytes));
    f.gauge("vigil_last_values", "Topics in the last-value cache.", num(b.last_values));
    f.gauge("vigil_last_value_bytes", "Topic and payload bytes of the last-value cache.", num(b.last_value_bytes));
    const char* checks = "Password checks: hashed, or dropped because the client had gone.";
    f.counter("vigil_password_checks_total", checks, num(b.auth_hashed), {{"result", "hashed"}});
    f.counter("vigil_password_checks_total", checks, num(b.auth_dropped), {{"result", "dropped"}});
    f.gauge("vigil_password_checks_queued", "Password checks waiting for the hashing thread.", num(b.auth_queued));
    f.histogram("vigil_password_check_duration_seconds",
                "Time of a hashed password check, from its queueing to its verdict (what a logging-in client waits).",
                b.auth_seconds);
    const char* tls =
        "TLS handshakes on the MQTT listeners (probe included), by result: ok, or failed (a refused certificate, a "
        "protocol error, a client that gave up).";
    f.counter("vigil_mqtt_tls_handshakes_total", tls, num(b.tls_handshakes), {{"result", "ok"}});
    f.counter("vigil_mqtt_tls_handshakes_total", tls, num(b.tls_failures), {{"result", "failed"}});
    f.gauge("vigil_shards_unresponsive",
            "Shards that did not answer this scrape within 2 s (their counters are missing from it).",
            num(b.shards_unresponsive));
}

void listener_families(families& f, const mqtt::broker_stats& b, const std::vector<mqtt::bound_listener>& listeners) {
    for (std::size_t i = 0; i < listeners.size() && i < b.open_by_listener.size(); ++i) {
        const auto& l = listeners[i];
        const bool v6 = l.address.find(':') != std::string::npos;
        const std::string address =
            v6 ? fmt::format("[{}]:{}", l.address, l.port) : fmt::format("{}:{}", l.address, l.port);
        f.gauge(
            "vigil_mqtt_listener_connections",
            "MQTT connections open, by MQTT listener (address:port; /mqtt on the HTTP listeners is not among them).",
            num(b.open_by_listener[i]), {{"listener", address}, {"tls", l.tls ? "true" : "false"}});
    }
}

void transport_families(families& f, const mqtt::broker_stats& b) {
    const auto transports = mqtt::transport_names.size();
    auto each = [&](auto&& add) {
        for (std::size_t t = 0; t < transports; ++t) {
            add(b.by_transport[t], std::string{mqtt::transport_names[t]});
        }
    };
    each([&](const mqtt::transport_stats& t, const std::string& name) {
        f.gauge("vigil_mqtt_connections",
                "MQTT connections open, by transport (mqtt, mqtt-tls, mqtt-ws: MQTT over WebSocket; probe: Vigil's own "
                "end-to-end probe).",
                static_cast<double>(t.open), {{"transport", name}});
    });
    for (const char* dir : {"received", "sent"}) {
        const bool in = dir == std::string_view{"received"};
        each([&](const mqtt::transport_stats& t, const std::string& name) {
            for (std::size_t q = 0; q < t.messages_in.size(); ++q) {
                f.counter(fmt::format("vigil_mqtt_messages_{}_total", dir),
                          in ? "PUBLISH packets received from MQTT clients, by transport and QoS."
                             : "PUBLISH packets queued to MQTT clients, by transport and QoS.",
                          num(in ? t.messages_in[q] : t.messages_out[q]),
                          {{"transport", name}, {"qos", std::to_string(q)}});
            }
        });
        each([&](const mqtt::transport_stats& t, const std::string& name) {
            f.counter(fmt::format("vigil_mqtt_{}_bytes_total", dir),
                      in ? "Bytes read from MQTT connections (TLS and WebSocket framing included), by transport."
                         : "Bytes written to MQTT connections, by transport.",
                      num(in ? t.bytes_in : t.bytes_out), {{"transport", name}});
        });
    }
    for (std::size_t r = 0; r < b.disconnects.size(); ++r) {
        f.counter("vigil_mqtt_disconnects_total",
                  "MQTT connections ended, by reason: clean (DISCONNECT), connection_lost, keepalive_timeout, "
                  "protocol_error, takeover, auth_failure, revoked, limit, shutdown, store_failure.",
                  num(b.disconnects[r]), {{"reason", std::string{mqtt::disconnect_reason_names[r]}}});
    }
}

void shard_families(families& f, const mqtt::broker_stats& b) {
    for (std::size_t i = 0; i < b.loops.size(); ++i) {
        const auto& l = b.loops[i];
        f.histogram("vigil_shard_loop_lag_seconds",
                    "How late a shard's 250 ms timer ran: what a message waits behind the shard's other work.",
                    l.lag_seconds, {{"shard", std::to_string(i)}});
    }
    for (std::size_t i = 0; i < b.loops.size(); ++i) {
        f.counter("vigil_shard_cpu_seconds_total", "CPU time of a shard's thread (its rate is the shard's busy share).",
                  b.loops[i].cpu_seconds, {{"shard", std::to_string(i)}});
    }
    for (std::size_t i = 0; i < b.loops.size(); ++i) {
        f.gauge(
            "vigil_shard_remote_queued_messages",
            "Messages other shards handed to a shard for its subscribers, not yet delivered (the cross-shard queue).",
            num(b.loops[i].remote_queued), {{"shard", std::to_string(i)}});
    }
}

void store_families(families& f, const mqtt::broker_stats& b) {
    const auto& s = b.store;
    f.gauge("vigil_store_up", "1 while the hot store commits, 0 once a write failed (see /healthz).",
            b.store_healthy ? 1 : 0);
    f.counter("vigil_store_commits_total", "Group commits (one WAL append each).", num(s.commits));
    f.counter("vigil_store_fsyncs_total", "Group commits that were fsynced.", num(s.syncs));
    f.counter("vigil_store_batches_total", "Batches the shards submitted.", num(s.batches));
    f.counter("vigil_store_writes_total", "Puts and deletes committed.", num(s.ops));
    f.counter("vigil_store_failures_total", "Group commits that failed.", num(s.failures));
    f.histogram("vigil_store_commit_duration_seconds", "Time of a group commit, fsync included.", s.commit_seconds);
    f.histogram("vigil_store_fsync_duration_seconds", "Time of the fsync of a group commit (durable mode).",
                s.fsync_seconds);
    f.histogram("vigil_store_commit_writes", "Puts and deletes per group commit.", s.commit_writes);
    f.gauge("vigil_store_backlog_bytes", "Bytes submitted to the store and not yet committed.", num(s.backlog_bytes));
    f.gauge("vigil_store_size_bytes", "Bytes of the store's table files and memtables.", num(s.size_bytes));
}

void archive_families(families& f, const mqtt::broker_stats& b) {
    if (!b.archive_on) {
        return;
    }
    const auto& a = b.archive;
    f.gauge("vigil_archive_up", "1 while the history archive writes, 0 while writes fail (see /healthz).",
            a.healthy ? 1 : 0);
    f.counter("vigil_archive_records_appended_total", "Records handed to the archive.", num(a.appended));
    f.counter("vigil_archive_records_written_total", "Records written to the archive.", num(a.written));
    f.counter("vigil_archive_records_dropped_total",
              "Records dropped: the pending bound was reached or a write failed.", num(a.dropped));
    f.counter("vigil_archive_flushes_total", "Batches the compactor wrote.", num(a.flushes));
    f.gauge("vigil_archive_pending_bytes", "Bytes waiting for the compactor.", num(a.pending_bytes));
    f.gauge("vigil_archive_lag_seconds", "Longest time from a record's receipt to its write, in the last flush.",
            static_cast<double>(a.lag_ms_max) / 1e3);
    f.gauge("vigil_archive_partitions", "Days the archive holds (one partition each).", num(a.partitions));
    f.counter("vigil_archive_partitions_dropped_total", "Days dropped by retention or the size cap.",
              num(a.partitions_dropped));
    f.gauge("vigil_archive_size_bytes", "Bytes of the archive's files on disk.", num(a.bytes_on_disk));
}

void probe_families(families& f, const std::optional<probe::stats>& p) {
    if (!p) {
        return;
    }
    f.counter("vigil_probe_rounds_total", "End-to-end probe rounds run.", num(p->rounds));
    f.counter("vigil_probe_failures_total",
              "Probe rounds whose message did not arrive (or that failed to connect, log in or subscribe).",
              num(p->failures));
    f.counter("vigil_probe_slow_total", "Probe rounds slower than probe.max_latency.", num(p->slow));
    if (p->now != probe::state::pending) {
        f.gauge("vigil_probe_healthy", "1 when the last probe round arrived within probe.max_latency, else 0.",
                p->now == probe::state::ok ? 1 : 0);
        f.gauge("vigil_probe_last_round_timestamp_seconds", "When the last probe round ended.", p->last_time);
    }
    const char* help =
        "Probe latency: publish (QoS 1) to arrival at an MQTT subscriber (path=mqtt), at a /ws dashboard (path=ws), "
        "and to readable in the history archive (path=history).";
    f.histogram("vigil_probe_latency_seconds", help, p->mqtt, {{"path", "mqtt"}});
    if (p->ws_on) {
        f.histogram("vigil_probe_latency_seconds", help, p->ws, {{"path", "ws"}});
    }
    if (p->history_on) {
        f.histogram("vigil_probe_latency_seconds", help, p->history, {{"path", "history"}});
    }
    const char* last = "The last probe round's latency, per path (absent when it did not arrive).";
    if (p->last.mqtt_seconds) {
        f.gauge("vigil_probe_last_latency_seconds", last, *p->last.mqtt_seconds, {{"path", "mqtt"}});
    }
    if (p->last.ws_seconds) {
        f.gauge("vigil_probe_last_latency_seconds", last, *p->last.ws_seconds, {{"path", "ws"}});
    }
    if (p->last.history_seconds) {
        f.gauge("vigil_probe_last_latency_seconds", last, *p->last.history_seconds, {{"path", "history"}});
    }
}

void tls_families(families& f, const std::vector<tls_expiry>& tls) {
    std::uint64_t unreadable = 0;
    for (const auto& t : tls) {
        if (!t.expires_seconds) {
            ++unreadable;
            continue;
        }
        f.gauge("vigil_tls_expiry_timestamp_seconds",
                "When a served TLS file stops being valid: the certificate's notAfter, the earliest notAfter of a CA "
                "bundle, a CRL's nextUpdate.",
                *t.expires_seconds, {{"kind", t.kind}, {"file", t.file}});
    }
    f.gauge("vigil_tls_files_unreadable",
            "Configured certificates, CA bundles and CRLs that could not be read at this scrape.", num(unreadable));
}

void process_families(families& f, const process_sample& p) {
    f.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", p.cpu_seconds);
    f.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", num(p.resident_bytes));
    f.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", num(p.virtual_bytes));
    f.gauge("process_open_fds", "Number of open file descriptors.", num(p.open_fds));
    f.gauge("process_max_fds", "Maximum number of open file descriptors.", num(p.max_fds));
    f.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds);
}

void http_families(families& f, const snapshot& s) {
    const char* responses =
        "HTTP responses of the HTTP listeners (API, /metrics, /healthz; not WebSocket upgrades), by status class.";
    constexpr std::array<const char*, 4> classes{"2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < classes.size(); ++i) {
        f.counter("vigil_http_responses_total", responses, num(s.http_responses[i]), {{"code", classes[i]}});
    }
    const char* tls =
        "TLS handshakes on the HTTPS listeners, by result: ok, or failed (a refused certificate, plaintext to an HTTPS "
        "port, a client that gave up).";
    f.counter("vigil_http_tls_handshakes_total", tls, num(s.https_handshakes), {{"result", "ok"}});
    f.counter("vigil_http_tls_handshakes_total", tls, num(s.https_failures), {{"result", "failed"}});
}

}  // namespace

std::string render(const snapshot& s) {
    families f;
    f.gauge("vigil_build_info", "Always 1; the version in a label.", 1, {{"version", s.version}});
    f.gauge("vigil_uptime_seconds", "Seconds since the broker started.", s.uptime_seconds);
    broker_families(f, s.broker);
    transport_families(f, s.broker);
    listener_families(f, s.broker, s.listeners);
    shard_families(f, s.broker);
    store_families(f, s.broker);
    archive_families(f, s.broker);
    probe_families(f, s.probe);
    http_families(f, s);
    tls_families(f, s.tls);
    process_families(f, s.process);
    return f.text();
}

}  // namespace vigil::metrics
