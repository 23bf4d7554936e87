#include <vigil/auth/acl.hpp>

#include <vigil/config/settings.hpp>
#include <vigil/core/topic.hpp>

#include <fmt/format.h>

namespace vigil::auth {
namespace {

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
            ++i;
        }
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
            ++i;
        }
        if (i > start) {
            out.push_back(line.substr(start, i - start));
        }
    }
    return out;
}

/// Replaces %c and %u; nullopt when a value used is empty, contains '+', '#' or '/', or starts
/// with '$' (it could widen the rule or escape it).
std::optional<std::string> substitute(std::string_view filter, std::string_view username, std::string_view client_id) {
    std::string out;
    for (std::size_t i = 0; i < filter.size(); ++i) {
        if (filter[i] == '%' && i + 1 < filter.size() && (filter[i + 1] == 'c' || filter[i + 1] == 'u')) {
            const std::string_view v = filter[i + 1] == 'c' ? client_id : username;
            if (v.empty() || v.find_first_of("+#/") != std::string_view::npos || v.front() == '$') {
                return std::nullopt;
            }
            out += v;
            ++i;
        } else {
            out += filter[i];
        }
    }
    return out;
}

}  // namespace

acl acl::parse(std::string_view text, std::string_view source) {
    acl a;
    std::optional<std::string> current_user = std::string{};  // before any `user`: anonymous
    config::for_each_line(text, [&](std::string_view line, std::size_t line_no) {
        const auto w = words(line);
        if (w.empty() || w[0].front() == '#') {
            return;  // blank or comment ('#' elsewhere is a wildcard, so no trailing comments)
        }
        auto fail = [&](std::string_view what) {
            throw config::config_error(fmt::format("{}:{}: {}", source, line_no, what));
        };
        if (w[0] == "user") {
            if (w.size() != 2) {
                fail("expected 'user NAME'");
            }
            current_user = std::string{w[1]};
            return;
        }
        if (w[0] != "topic" && w[0] != "pattern") {
            fail(fmt::format("unknown directive '{}' (expected user, topic or pattern)", w[0]));
        }
        rule r;
        r.pattern = w[0] == "pattern";
        std::string_view filter;
        if (w.size() == 2) {
            r.acc = access::readwrite;
            filter = w[1];
        } else if (w.size() == 3) {
            if (w[1] == "read") {
                r.acc = access::read;
            } else if (w[1] == "write") {
                r.acc = access::write;
            } else if (w[1] == "readwrite") {
                r.acc = access::readwrite;
            } else if (w[1] == "deny") {
                r.acc = access::none;
            } else {
                fail(fmt::format("unknown access '{}' (expected read, write, readwrite or deny)", w[1]));
            }
            filter = w[2];
        } else {
            fail(fmt::format("expected '{} [read|write|readwrite|deny] FILTER'", w[0]));
        }
        if (!topic::valid_filter(filter) || !topic::valid_utf8(filter)) {
            fail(fmt::format("'{}' is not a valid topic filter", filter));
        }
        r.filter = std::string{filter};
        if (!r.pattern) {
            r.user = current_user;
        }
        a.rules_.push_back(std::move(r));
    });
    return a;
}

acl acl::load(const std::string& path) { return parse(config::read_text_file(path, "ACL file"), path); }

permissions acl::for_client(std::string_view username, std::string_view client_id) const {
    std::vector<permissions::rule> out;
    bool deny_all = false;
    for (const auto& r : rules_) {
        std::optional<std::string> f;
        if (r.pattern) {
            f = substitute(r.filter, username, client_id);
            if (!f) {
                deny_all = deny_all || r.acc == access::none;  // a deny must never fail open
                continue;
            }
        } else if (r.user && *r.user == username) {
            f = r.filter;
        } else {
            continue;
        }
        const auto bits = static_cast<unsigned>(r.acc);
        out.push_back({std::move(*f), (bits & 1u) != 0, (bits & 2u) != 0});
    }
    return permissions{std::move(out), deny_all};
}

}  // namespace vigil::auth
