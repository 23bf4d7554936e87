#include "archive_cli.hpp"
#include "history_format.hpp"

#include <vigil/config/settings.hpp>
#include <vigil/core/topic.hpp>
#include <vigil/http/query.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

namespace vigil::app {
namespace {

constexpr std::string_view usage =
    "usage: vigil archive export (--config FILE | --data-dir DIR) --topic FILTER [--from T] [--to T] [--format "
    "ndjson|csv]\n"
    "  T: milliseconds since 1970 or RFC 3339 (2026-12-03T14:00:00Z); default: everything kept.\n"
    "  Writes the records to standard output, oldest first; works while vigil runs.\n";

int fail(std::string_view why) {
    std::fprintf(stderr, "vigil archive export: %.*s\n%.*s", static_cast<int>(why.size()), why.data(),
                 static_cast<int>(usage.size()), usage.data());
    return 2;
}

}  // namespace

int archive_export_main(const std::vector<std::string_view>& args) {
    std::filesystem::path data_dir;
    archive::query q;
    q.from_ms = 0;
    q.to_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count() +
              86'400'000;
    q.limit = 10'000;  // records per page
    record_format format = record_format::ndjson;
    for (std::size_t i = 0; i < args.size(); i += 2) {
        if (i + 1 >= args.size()) {
            return fail(fmt::format("{} needs a value", args[i]));
        }
        const std::string_view k = args[i];
        const std::string_view v = args[i + 1];
        if (k == "--config") {
            data_dir = config::load_settings(std::string{v}).data_dir;
        } else if (k == "--data-dir") {
            data_dir = std::string{v};
        } else if (k == "--topic") {
            if (!topic::valid_filter(v) || v.starts_with('$')) {
                return fail("--topic must be a topic or a topic filter outside $");
            }
            q.filter = v;
        } else if (k == "--from" || k == "--to") {
            const auto t = http::parse_time(v);
            if (!t) {
                return fail(fmt::format("{} must be a time: milliseconds since 1970 or RFC 3339", k));
            }
            (k == "--from" ? q.from_ms : q.to_ms) = *t;
        } else if (k == "--format") {
            const auto f = parse_format(v);
            if (!f || *f == record_format::json) {
                return fail("--format must be ndjson or csv");
            }
            format = *f;
        } else {
            return fail(fmt::format("unknown option {}", k));
        }
    }
    if (data_dir.empty() || q.filter.empty()) {
        return fail("--config or --data-dir, and --topic, are required");
    }
    if (q.from_ms > q.to_ms) {
        return fail("--from is after --to");
    }
    std::string out;
    if (format == record_format::csv) {
        append_csv_header(out);
    }
    std::uint64_t n = 0;
    archive::scan(data_dir / "archive", q, [&](const archive::page& p) {
        for (const auto& r : p.records) {
            append_record(out, r, format);
        }
        n += p.records.size();
        if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
            throw std::runtime_error("writing to standard output failed");
        }
        out.clear();
    });
    if (std::fflush(stdout) != 0) {
        throw std::runtime_error("writing to standard output failed");
    }
    std::fprintf(stderr, "vigil archive export: %llu records\n", static_cast<unsigned long long>(n));
    return 0;
}

}  // namespace vigil::app
