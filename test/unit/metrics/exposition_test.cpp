#include <vigil/metrics/exposition.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace vigil;

namespace {

metrics::snapshot sample() {
    metrics::snapshot s;
    s.version = "9.8.7";
    s.uptime_seconds = 12.5;
    s.broker.open_connections = 3;
    s.broker.publishes_in = 1234;
    s.broker.dropped_qos0_backpressure = 5;
    s.broker.denied_deliveries = 6;
    s.broker.store.commits = 4;
    for (const double took : {0.0002, 0.0008, 0.001, 20.0}) {  // <= 250 us, two <= 1 ms, > 10 s
        s.broker.store.commit_seconds.add(took);
    }
    s.broker.store.commit_writes.add(3);
    s.broker.store.commit_writes.add(7000);
    s.broker.loops.resize(2);
    for (int i = 0; i < 7; ++i) {
        s.broker.loops[1].lag_seconds.add(0.0005);
    }
    s.broker.loops[1].lag_seconds.add(0.01);
    s.broker.loops[1].cpu_seconds = 2.5;
    s.broker.loops[1].remote_queued = 42;
    s.broker.sessions.persistent_online = 2;
    s.broker.sessions.persistent_offline = 5;
    s.process.resident_bytes = 4096;
    s.tls.push_back({"certificate", "/etc/vigil/server.pem", 1893456000.0});
    s.tls.push_back({"crl", "/etc/vigil/ca.crl", std::nullopt});
    return s;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST_CASE("metrics: counters and gauges carry the broker's values under their Prometheus names", "[metrics]") {
    const auto text = metrics::render(sample());
    CHECK(has_line(text, "# TYPE vigil_messages_received_total counter"));
    CHECK(has_line(text, "vigil_messages_received_total 1234"));
    CHECK(has_line(text, "vigil_connections 3"));
    CHECK(has_line(text, "vigil_messages_dropped_total{reason=\"slow_client\"} 5"));
    CHECK(has_line(text, "vigil_messages_dropped_total{reason=\"denied_delivery\"} 6"));
    CHECK(has_line(text, "vigil_build_info{version=\"9.8.7\"} 1"));
    CHECK(has_line(text, "vigil_uptime_seconds 12.5"));
    CHECK(has_line(text, "process_resident_memory_bytes 4096"));
    // One # TYPE per family, however many label sets it has.
    std::size_t types = 0;
    for (auto at = text.find("# TYPE vigil_messages_dropped_total "); at != std::string::npos;
         at = text.find("# TYPE vigil_messages_dropped_total ", at + 1)) {
        ++types;
    }
    CHECK(types == 1);
}

TEST_CASE("metrics: the commit histogram is cumulative and ends in +Inf with the count", "[metrics]") {
    const auto text = metrics::render(sample());
    CHECK(has_line(text, "# TYPE vigil_store_commit_duration_seconds histogram"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_bucket{le=\"0.0001\"} 0"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_bucket{le=\"0.00025\"} 1"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_bucket{le=\"0.0005\"} 1"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_bucket{le=\"0.001\"} 3"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_bucket{le=\"10\"} 3"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_bucket{le=\"+Inf\"} 4"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_count 4"));
    CHECK(has_line(text, "vigil_store_commit_duration_seconds_sum 20.002"));
    CHECK(has_line(text, "vigil_store_commit_writes_bucket{le=\"5\"} 1"));
    CHECK(has_line(text, "vigil_store_commit_writes_bucket{le=\"5000\"} 1"));
    CHECK(has_line(text, "vigil_store_commit_writes_count 2"));
    CHECK(has_line(text, "vigil_store_fsync_duration_seconds_count 0"));
}

TEST_CASE("metrics: persistent sessions by state, one family", "[metrics]") {
    const auto text = metrics::render(sample());
    CHECK(has_line(text, "vigil_sessions_persistent{state=\"online\"} 2"));
    CHECK(has_line(text, "vigil_sessions_persistent{state=\"offline\"} 5"));
}

TEST_CASE("metrics: each shard's loop lag and CPU time carry its number", "[metrics]") {
    const auto text = metrics::render(sample());
    CHECK(has_line(text, "vigil_shard_loop_lag_seconds_bucket{shard=\"1\",le=\"0.0005\"} 7"));
    CHECK(has_line(text, "vigil_shard_remote_queued_messages{shard=\"1\"} 42"));
    CHECK(has_line(text, "vigil_shard_loop_lag_seconds_bucket{shard=\"1\",le=\"0.01\"} 8"));
    CHECK(has_line(text, "vigil_shard_loop_lag_seconds_count{shard=\"1\"} 8"));
    CHECK(has_line(text, "vigil_shard_loop_lag_seconds_count{shard=\"0\"} 0"));
    CHECK(has_line(text, "vigil_shard_cpu_seconds_total{shard=\"1\"} 2.5"));
}

TEST_CASE("metrics: TLS expiry per file; unreadable files are counted, not shown as expired", "[metrics]") {
    const auto text = metrics::render(sample());
    CHECK(has_line(
        text, "vigil_tls_expiry_timestamp_seconds{kind=\"certificate\",file=\"/etc/vigil/server.pem\"} 1893456000"));
    CHECK(text.find("ca.crl\"") == std::string::npos);
    CHECK(has_line(text, "vigil_tls_files_unreadable 1"));
}

TEST_CASE("metrics: the archive's families appear only when it is on", "[metrics]") {
    auto s = sample();
    CHECK(metrics::render(s).find("vigil_archive_") == std::string::npos);
    s.broker.archive_on = true;
    s.broker.archive.written = 77;
    CHECK(has_line(metrics::render(s), "vigil_archive_records_written_total 77"));
}

TEST_CASE("metrics: this process's sample is read from /proc", "[metrics]") {
    const auto p = metrics::sample_process();
    CHECK(p.resident_bytes > 0);
    CHECK(p.virtual_bytes >= p.resident_bytes);
    CHECK(p.open_fds >= 3);
    CHECK(p.max_fds >= p.open_fds);
    CHECK(p.start_time_seconds > 1.6e9);
}
