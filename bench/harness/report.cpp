#include "report.hpp"
#include "verdict.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace vigil::bench {
namespace {

// One number in a printf format; the formats are this file's own literals.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}
#pragma GCC diagnostic pop

struct path_stats {
    std::size_t samples = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
    std::uint64_t expected = 0, received = 0, lost = 0, dups = 0;
};

path_stats stats_of(const path_record& p) {
    path_stats s;
    auto all = p.all_latencies();
    s.samples = all.size();
    s.p50 = percentile_ms(all, 0.50);
    s.p90 = percentile_ms(all, 0.90);
    s.p99 = percentile_ms(all, 0.99);
    s.p999 = percentile_ms(all, 0.999);
    s.max = all.empty() ? 0 : *std::max_element(all.begin(), all.end()) / 1000.0;
    for (std::size_t k = 0; k < streams; ++k) {
        s.expected += p.expected[k];
        const std::uint64_t got = p.received[k] + (k == 0 ? p.conflated : 0);
        s.received += p.received[k];
        s.lost += p.expected[k] > got ? p.expected[k] - got : 0;
        s.dups += p.duplicates[k];
    }
    return s;
}

double mean_of(const std::vector<process_sample>& v, bool rss) {
    if (v.empty()) {
        return 0;
    }
    double sum = 0;
    for (const auto& s : v) {
        sum += rss ? s.rss_mib : s.cpu;
    }
    return sum / static_cast<double>(v.size());
}

double max_of(const std::vector<process_sample>& v, bool rss) {
    double m = 0;
    for (const auto& s : v) {
        m = std::max(m, rss ? s.rss_mib : s.cpu);
    }
    return m;
}

double sum_of(const std::array<std::uint64_t, streams>& a) { return static_cast<double>(a[0] + a[1] + a[2]); }

std::string describe(const scenario& sc) {
    if (sc.storm) {
        return std::to_string(sc.devices) + " devices" + (sc.tls ? " over TLS" : "") +
               (sc.will ? " (a will each)" : "") + " connecting at once, then reconnecting";
    }
    std::string d = std::to_string(sc.devices) + " devices" + (sc.tls ? " over TLS" : "") + " (location " +
                    fmt("%g", sc.location_hz) + " Hz QoS 0";
    if (sc.status_interval_s > 0) {
        d += ", status every " + fmt("%g", sc.status_interval_s) + " s QoS 1 retained";
    }
    if (sc.events_per_min > 0) {
        d += ", events " + fmt("%g", sc.events_per_min) + "/min QoS 1";
    }
    d += sc.will ? ", a will each)" : ")";
    d += ", " + std::to_string(sc.dashboards) + " dashboards" +
         (sc.watch > 0 ? " watching " + std::to_string(sc.watch) + " devices each" : "");
    d += ", " + std::to_string(sc.subscribers) + " MQTT subscribers (QoS " + std::to_string(sc.subscriber_qos) + ")";
    if (sc.churn_per_s > 0) {
        d += ", churn " + fmt("%g", sc.churn_per_s) + " reconnects/s";
    }
    return d;
}

std::string connect_line(storm_record s) {
    std::string l =
        s.label + ": " + std::to_string(s.clients - s.failed) + "/" + std::to_string(s.clients) + " connected";
    if (s.jitter_ms > 0) {
        l += " (spread over " + std::to_string(s.jitter_ms) + " ms)";
    }
    l += ", all within " + fmt("%.3f", s.all_connected_s) + " s; connect p50 " +
         fmt("%.2f", percentile_ms(s.connect_us, 0.5)) + " ms, p99 " + fmt("%.2f", percentile_ms(s.connect_us, 0.99)) +
         " ms, max " + fmt("%.2f", percentile_ms(s.connect_us, 1.0)) + " ms";
    if (s.server_rss_mib > 0) {
        l += ", server RSS " + fmt("%.0f", s.server_rss_mib) + " MiB";
    }
    return l + "\n";
}

// ---- JSON ----

std::string jnum(double v) {
    if (!std::isfinite(v)) {
        return "null";
    }
    return fmt("%.6g", v);
}

std::string jstr(std::string_view s) {
    std::string o = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
        }
        if (static_cast<unsigned char>(c) < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            o += esc;
            continue;
        }
        o += c;
    }
    return o + "\"";
}

/// Where and how the run was made: the host, the site's security, the server's settings.
std::string setting_lines(const run_result& r) {
    const auto& h = r.host;
    std::string o = "host: " + h.hostname + ", " + h.cpu + ", " + std::to_string(h.cores) + " cores, " +
                    fmt("%.1f", h.memory_gib) + " GiB, " + h.kernel + "\n";
    const auto& p = r.tg.production;
    o += std::string{"site: "} +
         (r.sc.tls ? (p.ca.empty() ? "TLS, server certificate NOT verified"
                                   : "TLS, server certificate verified against " + p.ca)
                   : "plain TCP") +
         (p.client_ca.empty() ? "" : "; a client certificate per client from " + p.client_ca) +
         (p.username.empty() ? "" : "; username " + p.username + " with a password") +
         (p.token.empty() ? "" : "; dashboards with an API token") + "\n";
    if (!r.server_settings.empty()) {
        o += "server:";
        for (const auto& [k, v] : r.server_settings) {
            o += " " + k + " " + v + ";";
        }
        o.back() = '\n';
    }
    return o;
}

std::string jpath(const path_record& p) {
    const path_stats s = stats_of(p);
    std::string o = "{\"samples\":" + std::to_string(s.samples) + ",\"latency_ms\":{\"p50\":" + jnum(s.p50) +
                    ",\"p90\":" + jnum(s.p90) + ",\"p99\":" + jnum(s.p99) + ",\"p99_9\":" + jnum(s.p999) +
                    ",\"max\":" + jnum(s.max) + "},\"streams\":{";
    for (std::size_t k = 0; k < streams; ++k) {
        o += std::string(k ? "," : "") + jstr(stream_names[k]) + ":{\"expected\":" + std::to_string(p.expected[k]) +
             ",\"received\":" + std::to_string(p.received[k]) + ",\"duplicates\":" + std::to_string(p.duplicates[k]) +
             "}";
    }
    o += "},\"conflated\":" + std::to_string(p.conflated) + ",\"p99_by_second_ms\":[";
    for (std::size_t i = 0; i < p.latency_us_by_second.size(); ++i) {
        auto v = p.latency_us_by_second[i];
        o += std::string(i ? "," : "") + jnum(percentile_ms(v, 0.99));
    }
    return o + "]}";
}

std::string jsamples(const std::vector<process_sample>& v) {
    std::string o = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        o += std::string(i ? "," : "") + "{\"t\":" + jnum(v[i].t) + ",\"cpu\":" + jnum(v[i].cpu) +
             ",\"rss_mib\":" + jnum(v[i].rss_mib) + "}";
    }
    return o + "]";
}

std::string jseries(const std::vector<double>& v) {
    std::string o = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        o += std::string(i ? "," : "") + jnum(v[i]);
    }
    return o + "]";
}

std::string jstorm(storm_record s) {
    return "{\"label\":" + jstr(s.label) + ",\"clients\":" + std::to_string(s.clients) +
           ",\"jitter_ms\":" + std::to_string(s.jitter_ms) + ",\"failed\":" + std::to_string(s.failed) +
           ",\"all_connected_s\":" + jnum(s.all_connected_s) +
           ",\"connect_ms\":{\"p50\":" + jnum(percentile_ms(s.connect_us, 0.5)) +
           ",\"p99\":" + jnum(percentile_ms(s.connect_us, 0.99)) +
           ",\"max\":" + jnum(percentile_ms(s.connect_us, 1.0)) + "},\"server_rss_mib\":" + jnum(s.server_rss_mib) +
           "}";
}

// ---- SVG ----

struct series {
    std::string name;
    std::vector<std::pair<double, double>> points;
};

const std::array<const char*, 4> colours{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

/// A short axis label: 1.2k, 3.4M, 0.25.
std::string tick(double v) {
    if (v >= 1e6) {
        return fmt("%.3gM", v / 1e6);
    }
    if (v >= 1e4) {
        return fmt("%.3gk", v / 1e3);
    }
    return fmt("%.3g", v);
}

/// `bar` > 0: a histogram with bars that wide (in x units) whose x values are log10 of ms
/// (ticks are labelled in ms); otherwise lines.
std::string svg_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<series>& data, double bar = 0) {
    const bool bars = bar > 0;
    constexpr double w = 640, h = 260, l = 60, r = 20, t = 30, b = 40;
    double xmax = 0, ymax = 0, xmin = 1e300;
    for (const auto& s : data) {
        for (const auto& [x, y] : s.points) {
            xmax = std::max(xmax, x);
            xmin = std::min(xmin, x);
            ymax = std::max(ymax, y);
        }
    }
    if (xmin > xmax) {
        xmin = 0;
    }
    if (bars) {
        xmin -= bar / 2;  // room for the outer bars' halves
        xmax += bar / 2;
    }
    xmax = xmax > xmin ? xmax : xmin + 1;
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    auto px = [&](double x) { return l + (x - xmin) / (xmax - xmin) * (w - l - r); };
    auto py = [&](double y) { return h - b - y / ymax * (h - t - b); };
    std::string o =
        "<svg xmlns='http://www.w3.org/2000/svg' width='" + fmt("%.0f", w) + "' height='" + fmt("%.0f", h) + "'>";
    o += "<text x='" + fmt("%.0f", w / 2) + "' y='18' text-anchor='middle' font-weight='bold'>" + title + "</text>";
    o += "<line x1='" + fmt("%.0f", l) + "' y1='" + fmt("%.0f", h - b) + "' x2='" + fmt("%.0f", w - r) + "' y2='" +
         fmt("%.0f", h - b) + "' stroke='#444'/>";
    o += "<line x1='" + fmt("%.0f", l) + "' y1='" + fmt("%.0f", t) + "' x2='" + fmt("%.0f", l) + "' y2='" +
         fmt("%.0f", h - b) + "' stroke='#444'/>";
    for (int i = 0; i <= 4; ++i) {
        const double y = ymax * i / 4;
        o += "<text x='" + fmt("%.0f", l - 4) + "' y='" + fmt("%.0f", py(y) + 4) +
             "' text-anchor='end' font-size='11'>" + tick(y) + "</text>";
        const double x = xmin + (xmax - xmin) * i / 4;
        o += "<text x='" + fmt("%.0f", px(x)) + "' y='" + fmt("%.0f", h - b + 14) +
             "' text-anchor='middle' font-size='11'>" + tick(bars ? std::pow(10.0, x) : x) + "</text>";
    }
    o += "<text x='" + fmt("%.0f", w / 2) + "' y='" + fmt("%.0f", h - 6) + "' text-anchor='middle' font-size='12'>" +
         xlabel + "</text>";
    o += "<text x='14' y='" + fmt("%.0f", h / 2) + "' text-anchor='middle' font-size='12' transform='rotate(-90 14 " +
         fmt("%.0f", h / 2) + ")'>" + ylabel + "</text>";
    for (std::size_t i = 0; i < data.size(); ++i) {
        const char* c = colours[i % colours.size()];
        if (bars) {
            const double bw = (px(bar) - px(0)) * 0.9;
            for (const auto& [x, y] : data[i].points) {
                o += "<rect x='" + fmt("%.1f", px(x) - bw / 2) + "' y='" + fmt("%.1f", py(y)) + "' width='" +
                     fmt("%.1f", bw) + "' height='" + fmt("%.1f", h - b - py(y)) + "' fill='" + c + "' opacity='0.6'/>";
            }
        } else {
            o += "<polyline fill='none' stroke='" + std::string(c) + "' stroke-width='1.5' points='";
            for (const auto& [x, y] : data[i].points) {
                o += fmt("%.1f", px(x)) + "," + fmt("%.1f", py(y)) + " ";
            }
            o += "'/>";
        }
        o += "<text x='" + fmt("%.0f", w - r - 150) + "' y='" + fmt("%.0f", t + 14.0 * static_cast<double>(i)) +
             "' font-size='11' fill='" + c + "'>" + data[i].name + "</text>";
    }
    return o + "</svg>";
}

constexpr int per_decade = 8;  // histogram buckets per factor of 10

/// Latency histogram: share of messages per log-spaced bucket (x: log10 of ms).
series histogram(const std::string& name, const std::vector<std::uint32_t>& us) {
    series s{name, {}};
    if (us.empty()) {
        return s;
    }
    constexpr double lo = -2;  // 0.01 ms
    std::vector<double> bins(6 * per_decade, 0);
    for (const auto v : us) {
        const double ms = std::max(v / 1000.0, 0.01);
        const auto i = static_cast<std::size_t>(
            std::clamp((std::log10(ms) - lo) * per_decade, 0.0, static_cast<double>(bins.size() - 1)));
        bins[i] += 1;
    }
    for (std::size_t i = 0; i < bins.size(); ++i) {
        if (bins[i] > 0) {
            s.points.emplace_back(lo + (static_cast<double>(i) + 0.5) / per_decade,
                                  100.0 * bins[i] / static_cast<double>(us.size()));
        }
    }
    return s;
}

std::string html_escape(std::string_view s) {
    std::string o;
    for (const char c : s) {
        o += c == '<'   ? std::string{"&lt;"}
             : c == '>' ? std::string{"&gt;"}
             : c == '&' ? std::string{"&amp;"}
                        : std::string(1, c);
    }
    return o;
}

}  // namespace

std::string summary_text(const run_result& r) {
    std::string o = "vigil-bench " + r.sc.name + " against " + r.tg.broker + " (" + r.tg.host + ":" +
                    std::to_string(r.tg.port) + "), " + r.started_at + "\n";
    o += describe(r.sc) + "\n";
    o += setting_lines(r);
    if (!r.sc.overrides.empty()) {
        o += "overrides:";
        for (const auto& a : r.sc.overrides) {
            o += " " + a;
        }
        o += "\n";
    }
    if (r.setup.clients > 0) {
        o += connect_line(r.setup);
    }
    for (const auto& s : r.storms) {
        o += connect_line(s);
    }
    if (!r.steps.empty()) {
        o += "\nstep       loc Hz  target/s    sent/s  delivered/s  path   p50 ms   p90 ms   p99 ms  p99.9 ms   max ms "
             "  loss %  dups  server cores/MiB  generator cores\n";
    }
    for (const auto& s : r.steps) {
        const double delivered = (sum_of(s.mqtt.received) + sum_of(s.ws.received)) / s.seconds;
        bool first = true;
        for (const auto& [name, p] : {std::pair<const char*, const path_record*>{"mqtt", &s.mqtt}, {"ws", &s.ws}}) {
            const path_stats ps = stats_of(*p);
            if (ps.expected == 0 && ps.samples == 0) {
                continue;
            }
            char head[128] = "";
            if (first) {
                std::snprintf(head, sizeof head, "%-10s %6.2f %9.0f %9.0f %12.0f", s.label.c_str(), s.location_hz,
                              s.target_publish_rate, sum_of(s.sent) / s.seconds, delivered);
            }
            char line[400];
            std::snprintf(line, sizeof line,
                          "%-50s  %-5s %7.2f  %7.2f  %7.2f  %8.2f  %7.2f  %7.3f  %4llu  %5.2f / %-7.0f  %5.2f\n", head,
                          name, ps.p50, ps.p90, ps.p99, ps.p999, ps.max,
                          ps.expected ? 100.0 * static_cast<double>(ps.lost) / static_cast<double>(ps.expected) : 0.0,
                          static_cast<unsigned long long>(ps.dups), mean_of(s.server, false), max_of(s.server, true),
                          mean_of(s.generator, false));
            o += line;
            first = false;
        }
        if (s.ws.conflated > 0) {
            o += "           (" + std::to_string(s.ws.conflated) +
                 " positions conflated for slow dashboards: newer values replaced them)\n";
        }
    }
    if (r.sc.ramp && r.best_step >= 0) {
        const auto& b = r.steps[static_cast<std::size_t>(r.best_step)];
        o += "MAX sustained: " + fmt("%.0f", (sum_of(b.mqtt.received) + sum_of(b.ws.received)) / b.seconds) +
             " deliveries/s (" + fmt("%.0f", sum_of(b.sent) / b.seconds) + " publishes/s, location " +
             fmt("%.2f", b.location_hz) + " Hz per device), p99 " + fmt("%.2f", step_p99(b)) + " ms\n";
    } else if (r.sc.ramp) {
        o += "MAX sustained: none (the first step already broke p99 <= " + fmt("%g", r.sc.max_p99_ms) +
             " ms or loss <= " + fmt("%g", r.sc.max_loss * 100) + " %)\n";
    }
    return o + verdict_text(verdict(r));
}

std::string json_report(const run_result& r) {
    std::string overrides = "[";
    for (std::size_t i = 0; i < r.sc.overrides.size(); ++i) {
        overrides += std::string(i ? "," : "") + jstr(r.sc.overrides[i]);
    }
    overrides += "]";
    std::string o = "{\"tool\":\"vigil-bench\",\"scenario\":" + jstr(r.sc.name) +
                    ",\"description\":" + jstr(describe(r.sc)) + ",\"overrides\":" + overrides +
                    ",\"broker\":" + jstr(r.tg.broker) +
                    ",\"target\":" + jstr(r.tg.host + ":" + std::to_string(r.tg.port)) +
                    ",\"started_at\":" + jstr(r.started_at) + ",\"setup\":" + jstorm(r.setup) + ",\"storms\":[";
    for (std::size_t i = 0; i < r.storms.size(); ++i) {
        o += std::string(i ? "," : "") + jstorm(r.storms[i]);
    }
    o += "],\"steps\":[";
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
        const auto& s = r.steps[i];
        o += std::string(i ? "," : "") + "{\"label\":" + jstr(s.label) + ",\"seconds\":" + jnum(s.seconds) +
             ",\"location_hz\":" + jnum(s.location_hz) + ",\"target_publish_rate\":" + jnum(s.target_publish_rate) +
             ",\"achieved_publish_rate\":" + jnum(sum_of(s.sent) / s.seconds) +
             ",\"delivered_rate\":" + jnum((sum_of(s.mqtt.received) + sum_of(s.ws.received)) / s.seconds) +
             ",\"loss\":" + jnum(step_loss(s)) + ",\"p99_ms\":" + jnum(step_p99(s)) +
             ",\"sent\":{\"location\":" + std::to_string(s.sent[0]) + ",\"status\":" + std::to_string(s.sent[1]) +
             ",\"events\":" + std::to_string(s.sent[2]) + "},\"device_to_subscriber\":" + jpath(s.mqtt) +
             ",\"device_to_browser\":" + jpath(s.ws) + ",\"server\":" + jsamples(s.server) +
             ",\"generator\":" + jsamples(s.generator) + ",\"sent_per_second\":" + jseries(s.sent_per_second) +
             ",\"delivered_per_second\":" + jseries(s.delivered_per_second) + "}";
    }
    o += "],\"best_step\":" + std::to_string(r.best_step);
    const auto& h = r.host;
    o += ",\"host\":{\"hostname\":" + jstr(h.hostname) + ",\"cpu\":" + jstr(h.cpu) +
         ",\"cores\":" + std::to_string(h.cores) + ",\"memory_gib\":" + jnum(h.memory_gib) +
         ",\"kernel\":" + jstr(h.kernel) + "}";
    const auto& p = r.tg.production;
    o += std::string{",\"site\":{\"tls\":"} + (r.sc.tls ? "true" : "false") +
         ",\"server_certificate_verified\":" + (r.sc.tls && !p.ca.empty() ? "true" : "false") +
         ",\"client_certificates\":" + (p.client_ca.empty() ? "false" : "true") +
         ",\"passwords\":" + (p.username.empty() ? "false" : "true") +
         ",\"api_token\":" + (p.token.empty() ? "false" : "true") + "},\"server_settings\":{";
    for (std::size_t i = 0; i < r.server_settings.size(); ++i) {
        o += std::string(i ? "," : "") + jstr(r.server_settings[i].first) + ":" + jstr(r.server_settings[i].second);
    }
    const auto checks = verdict(r);
    o += std::string{"},\"verdict\":{\"met\":"} + (all_met(checks) ? "true" : "false") + ",\"checks\":[";
    for (std::size_t i = 0; i < checks.size(); ++i) {
        o += std::string(i ? "," : "") + "{\"what\":" + jstr(checks[i].what) +
             ",\"met\":" + (checks[i].met ? "true" : "false") + ",\"detail\":" + jstr(checks[i].detail) + "}";
    }
    o += "]}}\n";
    return o;
}

std::string html_report(const run_result& r) {
    std::string o = "<!doctype html><html><head><meta charset='utf-8'><title>vigil-bench " + html_escape(r.sc.name) +
                    " / " + html_escape(r.tg.broker) +
                    "</"
                    "title><style>body{font-family:sans-serif;margin:24px;max-width:1000px}pre{background:#f4f4f4;"
                    "padding:12px;overflow-x:auto;font-size:12px}"
                    "svg{border:1px solid #ddd;margin:6px 0}</style></head><body>";
    o += "<h1>vigil-bench: " + html_escape(r.sc.name) + " against " + html_escape(r.tg.broker) + "</h1><p>" +
         html_escape(r.sc.description) + "</p>";
    o += "<pre>" + html_escape(summary_text(r)) + "</pre>";
    for (const auto& s : r.steps) {
        o += "<h2>" + html_escape(s.label) + "</h2>";
        std::vector<series> hist;
        std::vector<series> p99;
        for (const auto& [name, p] : {std::pair<const char*, const path_record*>{"device to MQTT subscriber", &s.mqtt},
                                      {"device to browser", &s.ws}}) {
            const auto all = p->all_latencies();
            if (all.empty()) {
                continue;
            }
            hist.push_back(histogram(name, all));
            series line{std::string{name} + " p99", {}};
            for (std::size_t i = 0; i < p->latency_us_by_second.size(); ++i) {
                auto v = p->latency_us_by_second[i];
                line.points.emplace_back(static_cast<double>(i), percentile_ms(v, 0.99));
            }
            p99.push_back(std::move(line));
        }
        o += svg_chart("Latency histogram", "latency, ms (log scale)", "% of messages", hist, 1.0 / per_decade);
        o += svg_chart("p99 latency per second", "second of the window", "ms", p99);
        series sent{"published/s", {}};
        series delivered{"delivered/s", {}};
        for (std::size_t i = 0; i < s.sent_per_second.size(); ++i) {
            sent.points.emplace_back(static_cast<double>(i + 1), s.sent_per_second[i]);
            delivered.points.emplace_back(static_cast<double>(i + 1), s.delivered_per_second[i]);
        }
        o += svg_chart("Throughput", "second", "messages/s", {sent, delivered});
        series rss{"server RSS MiB", {}};
        series cpu{"server cores x 100", {}};
        series gen{"generator cores x 100", {}};
        for (const auto& p : s.server) {
            rss.points.emplace_back(p.t, p.rss_mib);
            cpu.points.emplace_back(p.t, p.cpu * 100);
        }
        for (const auto& p : s.generator) {
            gen.points.emplace_back(p.t, p.cpu * 100);
        }
        o += svg_chart("Server memory", "second", "MiB", {rss});
        o += svg_chart("CPU", "second", "% of one core", {cpu, gen});
    }
    for (const auto& st : r.storms) {
        o += "<h2>" + html_escape(st.label) + "</h2>";
        o += svg_chart("Connect time histogram", "connect time, ms (log scale)", "% of clients",
                       {histogram("CONNECT to CONNACK", st.connect_us)}, 1.0 / per_decade);
    }
    return o + "</body></html>\n";
}

}  // namespace vigil::bench
