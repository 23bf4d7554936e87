// `vigil token`: issues (FILE NAME [--subscribe F,..] [--publish F,..] [--admin]), lists
// (--list FILE) and revokes (--revoke FILE NAME) API tokens in a tokens file.
#include "passwd.hpp"

#include <vigil/auth/tokens.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/core/text.hpp>
#include <vigil/core/topic.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace vigil::app {
namespace {

constexpr const char* usage =
    "usage: vigil token FILE NAME [--subscribe FILTER,...] [--publish FILTER,...] [--admin]\n"
    "       vigil token --list FILE\n"
    "       vigil token --revoke FILE NAME\n"
    "Appends a new API token to FILE (created with mode 0600) and prints its secret once; --admin\n"
    "lets it use the admin API. Lists the tokens of FILE, or removes one. Send vigil SIGHUP to apply.\n";

int list(const std::string& file) {
    const auto tokens = auth::token_file::load(file);
    std::printf("%-20s %-6s %-40s %s\n", "name", "admin", "subscribe", "publish");
    for (const auto& t : tokens.all()) {
        std::printf("%-20s %-6s %-40s %s\n", t->name.c_str(), t->admin ? "yes" : "no",
                    fmt::format("{}", fmt::join(t->subscribe, ",")).c_str(),
                    fmt::format("{}", fmt::join(t->publish, ",")).c_str());
    }
    return 0;
}

int revoke(const std::string& file, std::string_view name) {
    if (!auth::token_file::remove_from_file(file, name)) {
        std::fprintf(stderr, "vigil token: %s has no token named '%.*s'\n", file.c_str(), static_cast<int>(name.size()),
                     name.data());
        return 1;
    }
    std::fprintf(stderr,
                 "token '%.*s' removed from %s. Send vigil SIGHUP: dashboards using it are then disconnected.\n",
                 static_cast<int>(name.size()), name.data(), file.c_str());
    return 0;
}

}  // namespace

int token_main(const std::vector<std::string_view>& given) {
    try {
        if (given.size() == 2 && given[0] == "--list") {
            return list(std::string{given[1]});
        }
        if (given.size() == 3 && given[0] == "--revoke") {
            return revoke(std::string{given[1]}, given[2]);
        }
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "vigil token: %s\n", e.what());
        return 1;
    }
    bool admin = false;
    std::vector<std::string_view> args = given;
    if (const auto at = std::find(args.begin(), args.end(), "--admin"); at != args.end()) {
        admin = true;
        args.erase(at);
    }
    if (args.size() < 2 || args.size() % 2 != 0 || args[0].starts_with("--")) {
        std::fputs(usage, stderr);
        return 2;
    }
    const std::string file{args[0]};
    const std::string_view name = args[1];
    if (name.empty() || name.find_first_of(" \t#") != std::string_view::npos) {
        std::fprintf(stderr, "vigil token: NAME must be one word without '#'\n");
        return 2;
    }
    std::vector<std::string> sub;
    std::vector<std::string> pub;
    for (std::size_t i = 2; i < args.size(); i += 2) {
        if (args[i] != "--subscribe" && args[i] != "--publish") {
            std::fputs(usage, stderr);
            return 2;
        }
        auto& into = args[i] == "--subscribe" ? sub : pub;
        for (const std::string_view f : split_commas(args[i + 1])) {
            if (!topic::valid_filter(f)) {
                std::fprintf(stderr, "vigil token: \"%.*s\" is not a valid topic filter\n", static_cast<int>(f.size()),
                             f.data());
                return 2;
            }
            into.emplace_back(f);
        }
    }
    try {
        const auto issued = auth::token_file::issue(name, sub, pub, admin);
        bool taken = false;
        (void)auth::token_file::edit_file(file, [&](const std::string& text) -> std::optional<std::string> {
            const auto all = auth::token_file::parse(text, file).all();
            taken = std::any_of(all.begin(), all.end(), [name](const auto& t) { return t->name == name; });
            if (taken) {
                return std::nullopt;
            }
            return text + (text.empty() || text.back() == '\n' ? "" : "\n") + issued.line + "\n";
        });
        if (taken) {
            std::fprintf(stderr,
                         "vigil token: %s already has a token named '%.*s': pick another name, or revoke it first "
                         "(vigil token --revoke %s %.*s)\n",
                         file.c_str(), static_cast<int>(name.size()), name.data(), file.c_str(),
                         static_cast<int>(name.size()), name.data());
            return 1;
        }
        std::printf("%s\n", issued.secret.c_str());
        std::fprintf(stderr,
                     "token '%.*s' added to %s; its secret is printed above, once (only its SHA-256 is stored). Send "
                     "vigil SIGHUP to load it.\n",
                     static_cast<int>(name.size()), name.data(), file.c_str());
        return 0;
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "vigil token: %s\n", e.what());
        return 1;
    }
}

}  // namespace vigil::app
