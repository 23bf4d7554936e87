#pragma once
// What the parsers of the configuration share: the file's name for errors, and typed reads of
// TOML values that fail with `file:line` and what was expected.

#include <vigil/config/settings.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::config {

struct context {
    std::string_view source;

    [[noreturn]] void fail(const toml::node& n, std::string_view what) const {
        throw config_error(fmt::format("{}:{}: {}", source, n.source().begin.line, what));
    }

    /// Rejects keys of `t` not in `known` (catches typos instead of ignoring them).
    void only(const toml::table& t, std::initializer_list<std::string_view> known, std::string_view where) const {
        for (const auto& [k, v] : t) {
            if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
                fail(v, fmt::format("unknown key '{}{}'", where, k.str()));
            }
        }
    }

    template <class T>
    T integer(const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi) const {
        const auto* v = n.as_integer();
        if (v == nullptr) {
            fail(n, fmt::format("'{}' must be an integer", key));
        }
        const std::int64_t x = v->get();
        if (x < lo || x > hi) {
            fail(n, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, x));
        }
        return static_cast<T>(x);
    }

    std::string string(const toml::node& n, std::string_view key) const {
        const auto* v = n.as_string();
        if (v == nullptr) {
            fail(n, fmt::format("'{}' must be a string", key));
        }
        return v->get();
    }

    /// An array of strings; `what` says what its items are, for the error.
    std::vector<std::string> strings(const toml::node& n, std::string_view key, std::string_view what) const {
        const auto* arr = n.as_array();
        if (arr == nullptr) {
            fail(n, fmt::format("'{}' must be an array of {}", key, what));
        }
        std::vector<std::string> out;
        for (const auto& item : *arr) {
            out.push_back(string(item, key));
        }
        return out;
    }

    /// A byte count: an integer, or a string such as "512MiB" or "2GiB" (B, KiB, MiB, GiB, TiB).
    std::uint64_t size(const toml::node& n, std::string_view key, std::uint64_t lo, std::uint64_t hi) const;

    std::chrono::milliseconds duration(const toml::node& n, std::string_view key) const {
        std::chrono::milliseconds d{};
        if (!parse_duration(string(n, key), d) || d.count() <= 0) {
            fail(n, fmt::format("'{}' must be a positive duration such as \"500ms\", \"10s\" or \"5m\"", key));
        }
        return d;
    }

    /// How often something periodic runs: a duration from 100ms to 24h, or "off" (0).
    std::chrono::milliseconds interval_or_off(const toml::node& n, std::string_view key) const {
        const auto* off = n.as_string();
        if (off != nullptr && off->get() == "off") {
            return std::chrono::milliseconds{0};
        }
        const auto d = duration(n, fmt::format("{} (or \"off\")", key));
        if (d < std::chrono::milliseconds{100} || d > std::chrono::hours{24}) {
            fail(n, fmt::format("'{}' must be between 100ms and 24h, or \"off\"", key));
        }
        return d;
    }
};

/// `[limits]`.
void parse_limits(const context& cx, const toml::table& t, limits_settings& lim);
void parse_archive(const context& cx, const toml::table& t, archive_settings& a);
void parse_probe(const context& cx, const toml::table& t, probe_settings& p);
void parse_ui(const context& cx, const toml::table& t, ui_settings& u);

}  // namespace vigil::config
