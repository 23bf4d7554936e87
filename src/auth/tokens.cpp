#include <vigil/auth/tokens.hpp>

#include <vigil/config/settings.hpp>
#include <vigil/core/text.hpp>
#include <vigil/core/topic.hpp>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace vigil::auth {
namespace {

std::string sha256_hex(std::string_view s) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
    std::string out;
    out.reserve(2 * sizeof d);
    for (const unsigned char c : d) {
        out += fmt::format("{:02x}", c);
    }
    return out;
}

std::vector<std::string> split_filters(std::string_view list, std::string_view source, std::size_t line) {
    std::vector<std::string> out;
    for (const std::string_view f : split_commas(list)) {
        if (!topic::valid_filter(f) || !topic::valid_utf8(f)) {
            throw config::config_error(fmt::format("{}:{}: \"{}\" is not a valid topic filter", source, line, f));
        }
        out.emplace_back(f);
    }
    return out;
}

permissions rights_of(const std::vector<std::string>& sub, const std::vector<std::string>& pub) {
    std::vector<permissions::rule> rules;
    for (const auto& f : sub) {
        rules.push_back({f, true, false});
    }
    for (const auto& f : pub) {
        rules.push_back({f, false, true});
    }
    return permissions{std::move(rules), false};
}

}  // namespace

bool api_token::same_as(const api_token& other) const {
    return name == other.name && hash == other.hash && subscribe == other.subscribe && publish == other.publish &&
           admin == other.admin;
}

token_file token_file::parse(std::string_view text, std::string_view source) {
    token_file tf;
    std::map<std::string, std::size_t, std::less<>> lines_by_name;
    config::for_each_line(text, [&](std::string_view line, std::size_t n) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') {
            return;
        }
        auto t = std::make_shared<api_token>();
        std::string hash;
        std::size_t pos = first;
        int field = 0;
        while (pos < line.size()) {
            const std::size_t end = std::min(line.find_first_of(" \t", pos), line.size());
            const std::string_view word = line.substr(pos, end - pos);
            if (field == 0) {
                t->name = word;
            } else if (field == 1) {
                if (!word.starts_with("sha256:") || word.size() != 7 + 64 ||
                    word.find_first_not_of("0123456789abcdef", 7) != std::string_view::npos) {
                    throw config::config_error(fmt::format(
                        "{}:{}: the second field must be sha256:<64 hex digits> (make lines with `vigil token`)",
                        source, n));
                }
                hash = word.substr(7);
            } else if (word.starts_with("sub=")) {
                t->subscribe = split_filters(word.substr(4), source, n);
            } else if (word.starts_with("pub=")) {
                t->publish = split_filters(word.substr(4), source, n);
            } else if (word == "admin") {
                t->admin = true;
            } else {
                throw config::config_error(
                    fmt::format("{}:{}: unknown field \"{}\" (expected sub=..., pub=... or admin)", source, n, word));
            }
            ++field;
            pos = line.find_first_not_of(" \t", end);
            if (pos == std::string_view::npos) {
                break;
            }
        }
        if (field < 2) {
            throw config::config_error(fmt::format("{}:{}: expected NAME sha256:<hex> [sub=...] [pub=...]", source, n));
        }
        if (const auto [it, fresh] = lines_by_name.emplace(t->name, n); !fresh) {
            throw config::config_error(fmt::format(
                "{}:{}: token name '{}' is already used on line {}: names identify tokens (logs, revocation)", source,
                n, t->name, it->second));
        }
        t->hash = hash;
        t->rights = rights_of(t->subscribe, t->publish);
        if (!tf.by_hash_.emplace(std::move(hash), std::move(t)).second) {
            throw config::config_error(fmt::format("{}:{}: the same token appears twice", source, n));
        }
    });
    return tf;
}

token_file token_file::load(const std::string& path) {
    return parse(config::read_text_file(path, "tokens file"), path);
}

std::shared_ptr<const token_file> token_file::load(const config::http_settings& http) {
    if (http.tokens_file.empty() && http.tokens.empty()) {
        return nullptr;
    }
    token_file all = http.tokens_file.empty() ? token_file{} : load(http.tokens_file);
    std::string inline_lines;
    for (const auto& line : http.tokens) {
        inline_lines += line + '\n';
    }
    const token_file more = parse(inline_lines, "[http] tokens entry");
    for (const auto& [hash, t] : more.by_hash_) {
        const std::string& name = t->name;  // a structured binding cannot be captured before C++20's P1091 in clang 14
        const bool named = std::any_of(all.by_hash_.begin(), all.by_hash_.end(),
                                       [&name](const auto& e) { return e.second->name == name; });
        if (named || all.by_hash_.contains(hash)) {
            throw config::config_error(
                fmt::format("[http] tokens: token '{}' is also in {}", t->name, http.tokens_file));
        }
        auto copy = std::make_shared<api_token>(*t);
        copy->from_file = false;
        all.by_hash_.emplace(hash, std::move(copy));
    }
    return std::make_shared<const token_file>(std::move(all));
}

std::shared_ptr<const api_token> token_file::find(std::string_view secret) const {
    if (secret.empty()) {
        return nullptr;
    }
    const auto it = by_hash_.find(sha256_hex(secret));
    return it == by_hash_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const api_token>> token_file::all() const {
    std::vector<std::shared_ptr<const api_token>> out;
    for (const auto& [hash, t] : by_hash_) {
        out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
    return out;
}

std::optional<std::string> token_file::without(std::string_view text, std::string_view name) {
    std::string out;
    bool found = false;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
        text.remove_prefix(line.size());
        const auto first = line.find_first_not_of(" \t");
        const auto end = first == std::string_view::npos ? first : line.find_first_of(" \t\r\n", first);
        if (first != std::string_view::npos && line[first] != '#' && line.substr(first, end - first) == name) {
            found = true;
            continue;
        }
        out += line;
    }
    return found ? std::optional{std::move(out)} : std::nullopt;
}

std::shared_ptr<const api_token> token_file::find_hash(std::string_view hash) const {
    const auto it = by_hash_.find(hash);
    return it == by_hash_.end() ? nullptr : it->second;
}

token_file::issued token_file::issue(std::string_view name, const std::vector<std::string>& sub,
                                     const std::vector<std::string>& pub, bool admin) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        throw std::runtime_error("no randomness available for a token");
    }
    unsigned char b64[64];
    const int n = EVP_EncodeBlock(b64, raw, sizeof raw);
    std::string secret(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
    // base64url without padding: safe in URLs, headers and subprotocol names.
    std::replace(secret.begin(), secret.end(), '+', '-');
    std::replace(secret.begin(), secret.end(), '/', '_');
    secret.erase(std::remove(secret.begin(), secret.end(), '='), secret.end());
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& f : v) {
            s += (s.empty() ? "" : ",") + f;
        }
        return s;
    };
    std::string line = fmt::format("{} sha256:{}", name, sha256_hex(secret));
    if (!sub.empty()) {
        line += " sub=" + join(sub);
    }
    if (!pub.empty()) {
        line += " pub=" + join(pub);
    }
    if (admin) {
        line += " admin";
    }
    return {std::move(secret), std::move(line)};
}

}  // namespace vigil::auth
