// Editing a tokens file in place of its owner: under an exclusive lock, keeping its mode, owner
// and symlink, replaced at once.
#include <vigil/auth/tokens.hpp>

#include <vigil/config/settings.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vigil::auth {
namespace {

/// A file descriptor closed when it goes.
struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

[[noreturn]] void fail(const std::string& path, std::string_view doing, int err) {
    std::string advice;
    if (err == EACCES || err == EROFS || err == EPERM) {
        advice =
            ": the user editing it must be able to write its directory (for the admin API: the user running vigil; "
            "keep tokens_file in a "
            "directory it may write, such as its data_dir), or revoke with `vigil token --revoke` as its owner and "
            "reload";
    }
    throw config::config_error(fmt::format("tokens file {}: {}: {}{}", path, doing, std::strerror(err), advice));
}

std::string read_all(int fd, const std::string& path) {
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()))) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    if (n < 0) {
        fail(path, "cannot read it", errno);
    }
    return text;
}

}  // namespace

bool token_file::edit_file(const std::string& path,
                           const std::function<std::optional<std::string>(const std::string&)>& edit) {
    std::error_code ec;
    const std::filesystem::path given{path};
    // A symlink's target is edited (the link stays).
    const std::string real =
        std::filesystem::is_symlink(given, ec) ? std::filesystem::canonical(given, ec).string() : path;
    for (;;) {
        fd_guard f{::open(real.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)};
        if (f.fd < 0) {
            fail(path, "cannot open it", errno);
        }
        if (::flock(f.fd, LOCK_EX) != 0) {
            fail(path, "cannot lock it", errno);
        }
        struct stat held {};
        struct stat now {};
        if (::fstat(f.fd, &held) != 0 || ::stat(real.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
            held.st_dev != now.st_dev) {
            continue;  // replaced by another editor while this one waited for the lock: again
        }
        const std::string text = read_all(f.fd, path);
        (void)parse(text, path);  // never rewrite a broken file
        const auto next = edit(text);
        if (!next) {
            return false;
        }
        const std::string dir = std::filesystem::path{real}.parent_path().string();
        std::string tmp =
            (dir.empty() ? std::string{"."} : dir) + "/." + std::filesystem::path{real}.filename().string() + ".XXXXXX";
        fd_guard t{::mkstemp(tmp.data())};
        if (t.fd < 0) {
            fail(path, "cannot write beside it", errno);
        }
        // Its mode and owner (as root, the owner's; as its owner, unchanged).
        (void)::fchmod(t.fd, held.st_mode & 07777);
        (void)::fchown(t.fd, held.st_uid, held.st_gid);
        std::size_t done = 0;
        while (done < next->size()) {
            const ssize_t n = ::write(t.fd, next->data() + done, next->size() - done);
            if (n <= 0) {
                const int err = errno;
                ::unlink(tmp.c_str());
                fail(path, "cannot write it", err);
            }
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(t.fd) != 0 || ::rename(tmp.c_str(), real.c_str()) != 0) {
            const int err = errno;
            ::unlink(tmp.c_str());
            fail(path, "cannot replace it", err);
        }
        return true;  // the lock goes with the old file's descriptor
    }
}

bool token_file::remove_from_file(const std::string& path, std::string_view name) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw config::config_error(fmt::format("tokens file {}: it does not exist", path));
    }
    return edit_file(path, [name](const std::string& text) { return without(text, name); });
}

}  // namespace vigil::auth
