// `vigil passwd FILE USER`: adds, changes or deletes a user of a password file.
#include "passwd.hpp"

#include <vigil/auth/password.hpp>
#include <vigil/config/settings.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace vigil::app {
namespace {

std::string read_password(const char* prompt) {
    const bool tty = isatty(STDIN_FILENO) != 0;
    termios old{};
    if (tty) {
        std::fputs(prompt, stderr);
        tcgetattr(STDIN_FILENO, &old);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fputs("\n", stderr);
    }
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return line;
}

}  // namespace

int passwd_main(const std::vector<std::string_view>& args) {
    std::string file;
    std::string user;
    bool from_stdin = false;
    bool remove = false;
    unsigned iterations = auth::default_iterations;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--stdin") {
            from_stdin = true;
        } else if (args[i] == "-D") {
            remove = true;
        } else if (args[i] == "--iterations" && i + 1 < args.size()) {
            iterations = static_cast<unsigned>(std::stoul(std::string{args[++i]}));
            if (iterations < 1000) {
                std::fputs("vigil passwd: --iterations must be at least 1000\n", stderr);
                return 2;
            }
        } else if (file.empty()) {
            file = args[i];
        } else if (user.empty()) {
            user = args[i];
        } else {
            file.clear();
            break;
        }
    }
    if (file.empty() || user.empty() || user.find(':') != std::string::npos) {
        std::fputs("usage: vigil passwd [--stdin] [--iterations N] FILE USER\n       vigil passwd -D FILE USER\n",
                   stderr);
        return 2;
    }
    auth::password_file users;
    if (std::filesystem::exists(file)) {
        users = auth::password_file::load(file);
    }
    if (remove) {
        if (users.find(user) == nullptr) {
            std::fprintf(stderr, "vigil passwd: no user '%s' in %s\n", user.c_str(), file.c_str());
            return 1;
        }
        users.set(user, {});
    } else {
        // Asked twice unless --stdin (one line, for scripts): at a terminal, or from a pipe
        // that answers both prompts (a pipe with one line is a mistake, not a password).
        const std::string pw = read_password("Password: ");
        if (!from_stdin) {
            if (!std::cin) {
                std::fputs("vigil passwd: no password given (use --stdin to read one line)\n", stderr);
                return 1;
            }
            const std::string again = read_password("Password again: ");
            if (!std::cin) {
                std::fputs("vigil passwd: the password was given once; give it twice, or use --stdin\n", stderr);
                return 1;
            }
            if (again != pw) {
                std::fputs("vigil passwd: the passwords differ\n", stderr);
                return 1;
            }
        }
        if (pw.empty()) {
            std::fputs("vigil passwd: empty password\n", stderr);
            return 1;
        }
        users.set(user, auth::hash_password(pw, iterations));
    }
    // Write beside the file and rename, so a crash never leaves half a password file.
    const std::string tmp = file + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << users.text();
        if (!out.flush()) {
            std::fprintf(stderr, "vigil passwd: cannot write %s\n", tmp.c_str());
            return 1;
        }
    }
    ::chmod(tmp.c_str(), 0600);
    std::filesystem::rename(tmp, file);
    return 0;
}

}  // namespace vigil::app
