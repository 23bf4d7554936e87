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

bool has(access granted, access need) {
    return (static_cast<unsigned>(granted) & static_cast<unsigned>(need)) == static_cast<unsigned>(need);
}

/// Replaces %c and %u. A substituted value containing '+', '#' or '/' could widen the rule,
/// so such a client gets no pattern rules at all (returns nullopt).
std::optional<std::string> substitute(std::string_view filter, std::string_view username, std::string_view client_id) {
    std::string out;
    for (std::size_t i = 0; i < filter.size(); ++i) {
        if (filter[i] == '%' && i + 1 < filter.size() && (filter[i + 1] == 'c' || filter[i + 1] == 'u')) {
            const std::string_view v = filter[i + 1] == 'c' ? client_id : username;
            if (v.empty() || v.find_first_of("+#/") != std::string_view::npos) {
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

bool filter_covers(std::string_view rule, std::string_view sub) noexcept {
    std::size_t r = 0;
    std::size_t s = 0;
    for (;;) {
        const std::size_t r_end = std::min(rule.find('/', r), rule.size());
        const std::size_t s_end = std::min(sub.find('/', s), sub.size());
        const std::string_view rl = rule.substr(r, r_end - r);
        const std::string_view sl = sub.substr(s, s_end - s);
        if (rl == "#") {
            return true;
        }
        if (sl == "#") {
            return false;  // the subscription reaches deeper than a non-'#' rule level
        }
        if (rl != "+" && (sl == "+" || rl != sl)) {
            return false;
        }
        const bool r_done = r_end == rule.size();
        const bool s_done = s_end == sub.size();
        if (r_done || s_done) {
            return r_done && s_done;
        }
        r = r_end + 1;
        s = s_end + 1;
    }
}

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

template <class Grants, class Touches>
bool acl::any(std::string_view username, std::string_view client_id, access need, Grants grants, Touches touches) const {
    bool allowed = false;
    for (const auto& r : rules_) {
        std::optional<std::string> f;
        if (r.pattern) {
            f = substitute(r.filter, username, client_id);
        } else if (r.user && *r.user == username) {
            f = r.filter;
        }
        if (!f) {
            continue;
        }
        if (r.acc == access::none) {
            if (touches(*f)) {
                return false;  // an explicit deny wins over any grant
            }
        } else if (has(r.acc, need) && grants(*f)) {
            allowed = true;
        }
    }
    return allowed;
}

bool acl::allow_publish(std::string_view username, std::string_view client_id, std::string_view topic) const {
    if (topic.starts_with('$')) {
        return false;  // $SYS and other broker topics are never written by clients
    }
    auto matches = [topic](const std::string& f) { return topic::matches(f, topic); };
    return any(username, client_id, access::write, matches, matches);
}

bool acl::allow_subscribe(std::string_view username, std::string_view client_id, std::string_view filter) const {
    // Granted only if a rule covers the whole filter; denied if a deny rule covers it or it
    // covers a deny rule (subscribing to "a/#" would reach a denied "a/secret").
    return any(
        username,
        client_id,
        access::read,
        [filter](const std::string& f) { return filter_covers(f, filter); },
        [filter](const std::string& f) { return filter_covers(f, filter) || filter_covers(filter, f); }
    );
}

}  // namespace vigil::auth
