#include "history_api.hpp"
#include "history_format.hpp"

#include <vigil/auth/permissions.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/http/devices.hpp>
#include <vigil/http/json.hpp>
#include <vigil/http/query.hpp>
#include <vigil/http/track.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>
#include <stdexcept>
#include <chrono>
#include <span>

namespace vigil::app {
namespace {

constexpr std::size_t default_limit = 1000;
constexpr std::size_t max_limit = 10'000;
constexpr std::int64_t default_span_ms = 3'600'000;
constexpr std::size_t stream_page = 2000;          // records read per chunk of a streamed answer
constexpr std::size_t max_track_read = 2'000'000;  // positions read for one track, at most

http::response bad(std::string_view why) { return {400, http::error_json(400, why)}; }

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// `from` and `to` of `p` into `q` (default: the hour before now); an error response if bad.
std::optional<http::response> time_range(const http::params& p, archive::query& q) {
    q.to_ms = now_ms() + 1;
    if (const auto it = p.find("to"); it != p.end()) {
        const auto t = http::parse_time(it->second);
        if (!t) {
            return bad("'to' must be a time: milliseconds since 1970 or RFC 3339 (2026-12-03T14:00:00Z)");
        }
        q.to_ms = *t;
    }
    q.from_ms = q.to_ms - default_span_ms;
    if (const auto it = p.find("from"); it != p.end()) {
        const auto t = http::parse_time(it->second);
        if (!t) {
            return bad("'from' must be a time: milliseconds since 1970 or RFC 3339 (2026-12-03T14:00:00Z)");
        }
        q.from_ms = *t;
    }
    if (q.from_ms > q.to_ms) {
        return bad("'from' is after 'to'");
    }
    return std::nullopt;
}

/// Only `allowed` parameters; an error response naming the first other one.
std::optional<http::response> only(const http::params& p, std::initializer_list<std::string_view> allowed) {
    for (const auto& [k, v] : p) {
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            return bad(fmt::format("unknown parameter '{}': use {}", k, fmt::join(allowed, ", ")));
        }
    }
    return std::nullopt;
}

http::response unavailable() {
    return {503, http::error_json(503,
                                  "history is not available: the archive is off ([archive] topics = []) or could not "
                                  "be opened (see /healthz)")};
}

/// A history query answered as NDJSON or CSV, streamed: a page of records per chunk, read
/// when the previous chunk is sent, until the range (or `q.limit` records) is done.
http::response stream_history(const mqtt::broker& b, archive::query q, std::shared_ptr<const auth::permissions> reads,
                              record_format format) {
    struct state {
        archive::query q;
        std::size_t left;  // records still wanted
        bool header;
        archive::page page;  // read, not yet sent
    };
    auto st = std::make_shared<state>(state{std::move(q), 0, format == record_format::csv, {}});
    st->left = st->q.limit;
    auto may_read = [reads = std::move(reads)](std::string_view t) { return reads == nullptr || reads->may_read(t); };
    st->q.limit = std::min(stream_page, st->left);
    auto first = b.history(st->q, may_read);
    if (!first) {
        return unavailable();
    }
    st->page = std::move(*first);
    http::response out;
    out.content_type = format == record_format::csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    out.next_chunk = [&b, st, may_read = std::move(may_read), format](std::string& piece) {
        if (st->header) {
            append_csv_header(piece);
            st->header = false;
        }
        for (const auto& r : st->page.records) {
            append_record(piece, r, format);
        }
        st->left -= st->page.records.size();
        if (!st->page.next || st->left == 0) {
            return false;
        }
        st->q.after = st->page.next;
        st->q.limit = std::min(stream_page, st->left);
        auto next = b.history(st->q, may_read);
        if (!next) {
            throw std::runtime_error("the archive went away");
        }
        st->page = std::move(*next);
        return true;
    };
    return out;
}

}  // namespace

http::response history_request(const mqtt::broker& b, std::string_view target, const http::caller& who) {
    std::string error;
    const auto params = http::query_params(target, error);
    if (!params) {
        return bad(error);
    }
    if (auto err = only(*params, {"topic", "from", "to", "limit", "order", "cursor", "format"})) {
        return std::move(*err);
    }
    record_format format = record_format::json;
    if (const auto it = params->find("format"); it != params->end()) {
        const auto f = parse_format(it->second);
        if (!f) {
            return bad("'format' must be json, ndjson or csv");
        }
        format = *f;
    }
    const bool streamed = format != record_format::json;
    archive::query q;
    const auto topic = params->find("topic");
    if (topic == params->end() || !topic::valid_filter(topic->second) || topic->second.starts_with('$')) {
        return bad("'topic' must be a topic or a topic filter outside $ (wildcards: + as is or %2B, # as %23)");
    }
    q.filter = topic->second;
    if (auto err = time_range(*params, q)) {
        return std::move(*err);
    }
    q.limit = default_limit;
    if (const auto it = params->find("limit"); it != params->end()) {
        std::size_t n = 0;
        const auto& v = it->second;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc{} || end != v.data() + v.size() || n == 0 || (n > max_limit && !streamed)) {
            return bad(
                streamed ? std::string{"'limit' must be a number from 1"}
                         : fmt::format("'limit' must be a number from 1 to {} (format=ndjson or csv: any)", max_limit));
        }
        q.limit = n;
    } else if (streamed) {
        q.limit = std::numeric_limits<std::size_t>::max();  // the whole range
    }
    if (const auto it = params->find("order"); it != params->end()) {
        if (it->second != "asc" && it->second != "desc") {
            return bad("'order' must be asc or desc");
        }
        q.descending = it->second == "desc";
    }
    if (const auto it = params->find("cursor"); it != params->end()) {
        q.after = archive::decode_cursor(it->second);
        if (!q.after) {
            return bad("'cursor' is not one this API gave out");
        }
    }
    if (who.reads != nullptr && who.reads->scope_of(q.filter) == auth::read_scope::none) {
        return {403, http::error_json(403, fmt::format("this token may not read any topic of '{}'", q.filter))};
    }
    http::response res;
    // The token's rights are copied: the request's caller does not outlive this call.
    std::shared_ptr<const auth::permissions> reads;
    if (who.reads != nullptr) {
        reads = std::make_shared<const auth::permissions>(*who.reads);
    }
    if (streamed) {
        res.later = [&b, q = std::move(q), reads, format](http::response& out) {
            out = stream_history(b, q, reads, format);
        };
        return res;
    }
    res.later = [&b, q = std::move(q), reads](http::response& out) {
        const auto page = b.history(q, [&reads](std::string_view t) { return reads == nullptr || reads->may_read(t); });
        if (!page) {
            out = unavailable();
            return;
        }
        std::string body = "{\"topic\":";
        http::append_json_string(body, q.filter);
        const bool complete = page->kept_from_ms <= q.from_ms;
        body += fmt::format(",\"from\":{},\"to\":{},\"order\":\"{}\",\"complete\":{}", q.from_ms, q.to_ms,
                            q.descending ? "desc" : "asc", complete ? "true" : "false");
        if (!complete) {
            body += fmt::format(",\"kept_from\":{}", page->kept_from_ms);
        }
        body += ",\"records\":[";
        for (std::size_t i = 0; i < page->records.size(); ++i) {
            if (i > 0) {
                body += ',';
            }
            append_json_record(body, page->records[i]);
        }
        body += "],\"next\":";
        if (page->next) {
            http::append_json_string(body, archive::encode_cursor(*page->next));
        } else {
            body += "null";
        }
        body += '}';
        out = {200, std::move(body)};
    };
    return res;
}

}  // namespace vigil::app

namespace vigil::app {

http::response track_request(const mqtt::broker& b, std::string_view device, std::string_view target,
                             const http::caller& who, const track_fields& fields) {
    constexpr std::size_t default_points = 1000;
    constexpr std::size_t max_points_limit = 100'000;
    std::string error;
    const auto params = http::query_params(target, error);
    if (!params) {
        return bad(error);
    }
    if (auto err = only(*params, {"from", "to", "max_points"})) {
        return std::move(*err);
    }
    archive::query q;
    q.filter = fmt::format("devices/{}/location", device);
    if (auto err = time_range(*params, q)) {
        return std::move(*err);
    }
    std::size_t max_points = default_points;
    if (const auto it = params->find("max_points"); it != params->end()) {
        const auto& v = it->second;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), max_points);
        if (ec != std::errc{} || end != v.data() + v.size() || max_points < 2 || max_points > max_points_limit) {
            return bad(fmt::format("'max_points' must be a number from 2 to {}", max_points_limit));
        }
    }
    if (who.reads != nullptr && !who.reads->may_read(q.filter)) {
        return {403, http::error_json(403, fmt::format("this token may not read '{}'", q.filter))};
    }
    http::response res;
    res.later = [&b, q = std::move(q), max_points, device = std::string{device}, fields](http::response& out) mutable {
        std::vector<http::track_point> points;
        q.limit = max_limit;
        for (;;) {
            const auto page = b.history(q, [](std::string_view) { return true; });
            if (!page) {
                out = unavailable();
                return;
            }
            for (const auto& r : page->records) {
                if (auto p = http::position_of(r.payload, fields.lat, fields.lon)) {
                    p->time_ms = r.time_ms;
                    points.push_back(*p);
                }
            }
            if (!page->next) {
                break;
            }
            if (points.size() >= max_track_read) {
                out = bad(fmt::format("more than {} positions in this range: ask for a shorter one", max_track_read));
                return;
            }
            q.after = page->next;
        }
        const std::size_t total = points.size();
        out = {200, http::track_geojson(device, http::simplify(points, max_points), total), "application/geo+json"};
    };
    return res;
}

}  // namespace vigil::app
