// `vigil token FILE NAME [--subscribe F,F...] [--publish F,F...]`: issues an API token.
#include "passwd.hpp"

#include <vigil/auth/tokens.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/core/topic.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include <sys/stat.h>

namespace vigil::app {
namespace {

std::vector<std::string> split(std::string_view list) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= list.size() && !list.empty()) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        out.emplace_back(list.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return out;
}

}  // namespace

int token_main(const std::vector<std::string_view>& args) {
    constexpr const char* usage =
        "usage: vigil token FILE NAME [--subscribe FILTER,...] [--publish FILTER,...]\n"
        "Appends a new API token to FILE (created with mode 0600) and prints its secret once.\n";
    if (args.size() < 2 || args.size() % 2 != 0) {
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
        for (auto& f : split(args[i + 1])) {
            if (!topic::valid_filter(f)) {
                std::fprintf(stderr, "vigil token: \"%s\" is not a valid topic filter\n", f.c_str());
                return 2;
            }
            into.push_back(std::move(f));
        }
    }
    try {
        std::string existing;
        if (std::ifstream probe{file}; probe) {
            existing = config::read_text_file(file, "tokens file");
            (void)auth::token_file::parse(existing, file);  // never append to a broken file
        }
        const auto issued = auth::token_file::issue(name, sub, pub);
        const mode_t old = umask(077);
        std::ofstream out(file, std::ios::app);
        umask(old);
        if (!out) {
            std::fprintf(stderr, "vigil token: %s: cannot write\n", file.c_str());
            return 1;
        }
        if (!existing.empty() && existing.back() != '\n') {
            out << '\n';
        }
        out << issued.line << '\n';
        std::printf("%s\n", issued.secret.c_str());
        std::fprintf(stderr, "token '%.*s' added to %s; its secret is printed above, once (only its SHA-256 is stored). Send vigil SIGHUP to load it.\n",
                     static_cast<int>(name.size()), name.data(), file.c_str());
        return 0;
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "vigil token: %s\n", e.what());
        return 1;
    }
}

}  // namespace vigil::app
