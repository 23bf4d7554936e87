#include "db_cli.hpp"

#include "control.hpp"

#include <vigil/config/settings.hpp>
#include <vigil/core/log.hpp>
#include <vigil/rocks/backup.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <optional>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vigil::app {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view usage =
    "usage: vigil db backup (--config FILE | --data-dir DIR) DEST     add a backup of the store and archive to DEST\n"
    "       vigil db restore (--config FILE | --data-dir DIR) SRC [--id N]\n"
    "                                      restore backup N (default: the latest) of SRC into an empty data_dir\n"
    "       vigil db backups SRC           list the backups in SRC\n"
    "       vigil db purge SRC --keep N    delete all but the N latest backups of SRC\n"
    "  While vigil runs on the data_dir, the backup is made by it (through DATA_DIR/control.sock):\n"
    "  DEST must be writable by the user running vigil. A restore needs vigil stopped.\n";

int fail(std::string_view why, int status = 1) {
    std::fprintf(stderr, "vigil db: %.*s\n", static_cast<int>(why.size()), why.data());
    if (status == 2) {
        std::fputs(usage.data(), stderr);
    }
    return status;
}

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

std::string utc(std::int64_t seconds) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::sys_seconds{std::chrono::seconds{seconds}});
}

std::string store_label(const fs::path& data_dir) {
    return fmt::format("vigil {} data_dir {}", VIGIL_VERSION, data_dir.string());
}

std::string archive_label(std::uint32_t store_id) { return fmt::format("store backup {}", store_id); }

/// The one-line account of a backup that was made.
std::string describe(const fs::path& dest, const rocks::backup_info& store,
                     const std::optional<rocks::backup_info>& archive, std::uint64_t added,
                     std::chrono::milliseconds took) {
    return fmt::format("backup {} in {}: store {} files {}, archive {}; {} copied in {} ms (verified)", store.id,
                       dest.string(), store.files, mib(store.bytes),
                       archive ? fmt::format("{} files {}", archive->files, mib(archive->bytes)) : std::string{"off"},
                       mib(added), took.count());
}

/// The archive backup made with store backup `id`, if any.
std::optional<rocks::backup_info> archive_of(const fs::path& src, std::uint32_t id) {
    if (!fs::exists(src / "archive")) {
        return std::nullopt;
    }
    for (auto& a : rocks::list_backups(src / "archive")) {
        if (a.label == archive_label(id)) {
            return a;
        }
    }
    return std::nullopt;
}

/// DATA_DIR from `--config FILE` or `--data-dir DIR` at args[i], args[i + 1].
std::optional<fs::path> data_dir_of(std::string_view flag, std::string_view value) {
    if (flag == "--config") {
        return config::load_settings(std::string{value}).data_dir;
    }
    if (flag == "--data-dir") {
        return fs::path{std::string{value}};
    }
    return std::nullopt;
}

/// Why `dest` may not receive a backup of `data_dir`, or "".
std::string refusal(const fs::path& data_dir, const fs::path& dest) {
    const std::string d = dest.string();
    if (std::any_of(d.begin(), d.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        return "DEST must not contain control characters (a newline, a tab)";
    }
    std::error_code ec;
    const auto a = fs::weakly_canonical(data_dir, ec);
    const auto b = fs::weakly_canonical(dest, ec);
    const auto inside = [](const fs::path& outer, const fs::path& inner) {
        const auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
        return o == outer.end();
    };
    if (inside(a, b) || inside(b, a)) {
        return fmt::format("DEST {} and data_dir {} overlap: a backup belongs on another directory (and disk)",
                           b.string(), a.string());
    }
    return {};
}

int backup(const fs::path& data_dir, const fs::path& dest) {
    if (const auto why = refusal(data_dir, dest); !why.empty()) {
        return fail(why);
    }
    if (auto reply = control_request(control_path(data_dir), fmt::format("backup {}", dest.string()))) {
        const bool ok = reply->starts_with("ok ");
        std::fprintf(ok ? stdout : stderr, "%s%s\n", ok ? "" : "vigil db: ", reply->c_str() + (ok ? 3 : 6));
        return ok ? 0 : 1;
    }
    // No vigil runs on data_dir: this process opens the databases (and holds their locks). It
    // must be their owner: files RocksDB writes on opening would otherwise become ours, and
    // vigil could not start on them.
    struct stat st {};
    if (::stat(data_dir.c_str(), &st) == 0 && st.st_uid != ::geteuid()) {
        const passwd* owner = ::getpwuid(st.st_uid);
        return fail(
            fmt::format("{} belongs to {}: run this as that user (sudo -u {} vigil db backup ...), or the store's "
                        "files would become yours and vigil "
                        "could not start on them",
                        data_dir.string(), owner != nullptr ? owner->pw_name : fmt::format("uid {}", st.st_uid),
                        owner != nullptr ? owner->pw_name : "OWNER"));
    }
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t before = rocks::directory_bytes(dest);
    const auto store = rocks::create_backup(data_dir, dest / "store", store_label(data_dir));
    std::optional<rocks::backup_info> archive;
    if (fs::exists(data_dir / "archive" / "CURRENT")) {
        archive = rocks::create_backup(data_dir / "archive", dest / "archive", archive_label(store.id));
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    std::printf("%s (vigil is not running: made offline)\n",
                describe(dest, store, archive, rocks::directory_bytes(dest) - before, took).c_str());
    return 0;
}

int restore(const fs::path& data_dir, const fs::path& src, std::optional<std::uint32_t> id) {
    if (control_request(control_path(data_dir), "").has_value()) {
        return fail(fmt::format("vigil is running on {}: stop it before restoring", data_dir.string()));
    }
    const auto all = rocks::list_backups(src / "store");
    if (all.empty()) {
        return fail(fmt::format("{}: holds no backup", src.string()));
    }
    const auto chosen =
        id ? std::find_if(all.begin(), all.end(), [&](const auto& b) { return b.id == *id; }) : std::prev(all.end());
    if (chosen == all.end()) {
        return fail(fmt::format("{}: no backup {} (see `vigil db backups {}`)", src.string(), *id, src.string()));
    }
    const auto archive = archive_of(src, chosen->id);
    std::error_code ec;
    if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec)) {
        return fail(
            fmt::format("{}: is not empty; a restore only writes into an empty data_dir (it would delete what is "
                        "there): move it aside, "
                        "and create an empty one owned by the user running vigil",
                        data_dir.string()));
    }
    // Both verified before anything is written: a damaged backup leaves data_dir as it was.
    rocks::verify_backup(src / "store", chosen->id);
    if (archive) {
        rocks::verify_backup(src / "archive", archive->id);
    }
    rocks::restore_backup(src / "store", chosen->id, data_dir);
    if (archive) {
        rocks::restore_backup(src / "archive", archive->id, data_dir / "archive");
    }
    std::printf(
        "restored backup %u of %s (made %s) into %s: store %u files %s, archive %s. Check it with `vigil db check %s`, "
        "then start vigil.\n",
        chosen->id, src.string().c_str(), utc(chosen->time).c_str(), data_dir.string().c_str(), chosen->files,
        mib(chosen->bytes).c_str(),
        archive ? fmt::format("{} files {}", archive->files, mib(archive->bytes)).c_str() : "none",
        data_dir.string().c_str());
    return 0;
}

int purge(const fs::path& src, std::size_t keep) {
    const auto all = rocks::list_backups(src / "store");
    std::vector<std::uint32_t> kept;
    std::size_t deleted = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (i + keep < all.size()) {
            rocks::delete_backup(src / "store", all[i].id);
            ++deleted;
        } else {
            kept.push_back(all[i].id);
        }
    }
    // Archive backups go with their store backup.
    if (fs::exists(src / "archive")) {
        for (const auto& a : rocks::list_backups(src / "archive")) {
            if (std::none_of(kept.begin(), kept.end(),
                             [&a](std::uint32_t id) { return a.label == archive_label(id); })) {
                rocks::delete_backup(src / "archive", a.id);
            }
        }
    }
    std::printf("deleted %zu backup(s), kept %zu; %s on disk in %s\n", deleted, kept.size(),
                mib(rocks::directory_bytes(src)).c_str(), src.string().c_str());
    return 0;
}

int list(const fs::path& src) {
    const auto all = rocks::list_backups(src / "store");
    std::printf("%-6s %-21s %-12s %-12s %s\n", "id", "made (UTC)", "store", "archive", "label");
    for (const auto& b : all) {
        const auto a = archive_of(src, b.id);
        std::printf("%-6u %-21s %-12s %-12s %s\n", b.id, utc(b.time).c_str(), mib(b.bytes).c_str(),
                    a ? mib(a->bytes).c_str() : "-", b.label.c_str());
    }
    std::printf("%zu backup(s), %s on disk in %s\n", all.size(), mib(rocks::directory_bytes(src)).c_str(),
                src.string().c_str());
    return 0;
}

}  // namespace

int db_backup_main(const std::vector<std::string_view>& args) {
    try {
        if (args.size() == 2 && args[0] == "backups") {
            return list(fs::path{std::string{args[1]}});
        }
        if (args.size() == 4 && args[0] == "purge" && args[2] == "--keep") {
            std::size_t keep = 0;
            const auto [end, ec] = std::from_chars(args[3].data(), args[3].data() + args[3].size(), keep);
            if (ec != std::errc{} || end != args[3].data() + args[3].size() || keep == 0) {
                return fail("--keep takes a number of backups, at least 1", 2);
            }
            return purge(fs::path{std::string{args[1]}}, keep);
        }
        if (args.size() < 4 || (args[0] != "backup" && args[0] != "restore")) {
            return fail("wrong arguments", 2);
        }
        const auto data_dir = data_dir_of(args[1], args[2]);
        if (!data_dir) {
            return fail("give --config FILE or --data-dir DIR", 2);
        }
        // The running vigil's working directory is not this one: it gets an absolute path.
        const fs::path where = fs::absolute(fs::path{std::string{args[3]}});
        if (args[0] == "backup") {
            return args.size() == 4 ? backup(*data_dir, where) : fail("wrong arguments", 2);
        }
        std::optional<std::uint32_t> id;
        if (args.size() == 6 && args[4] == "--id") {
            std::uint32_t n = 0;
            const auto [end, ec] = std::from_chars(args[5].data(), args[5].data() + args[5].size(), n);
            if (ec != std::errc{} || end != args[5].data() + args[5].size()) {
                return fail("--id takes a backup number", 2);
            }
            id = n;
        } else if (args.size() != 4) {
            return fail("wrong arguments", 2);
        }
        return restore(*data_dir, where, id);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

std::string serve_control(const mqtt::broker& b, const fs::path& data_dir, std::string_view request,
                          std::string_view peer) {
    constexpr std::string_view verb = "backup ";
    if (!request.starts_with(verb) || request.size() == verb.size() || request[verb.size()] != '/') {
        log::warn("control: refused a request from {}: not `backup /ABSOLUTE/PATH`", peer);
        return "error the only request is `backup /ABSOLUTE/PATH`";
    }
    const fs::path dest{std::string{request.substr(verb.size())}};
    if (const auto why = refusal(data_dir, dest); !why.empty()) {
        log::warn("control: refused a backup to {} requested by {}: {}", dest.string(), peer, why);
        return "error " + why;
    }
    log::info("control: backup to {} requested by {}", dest.string(), peer);
    try {
        const auto started = std::chrono::steady_clock::now();
        const std::uint64_t before = rocks::directory_bytes(dest);
        const auto made = b.backup(dest / "store", dest / "archive", store_label(data_dir));
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        auto text = describe(dest, made.store, made.archive, rocks::directory_bytes(dest) - before, took);
        log::info("control: {}", text);
        return "ok " + text;
    } catch (const std::exception& e) {
        log::error("control: backup to {} failed: {}", dest.string(), e.what());
        return fmt::format("error backup failed: {}", e.what());
    }
}

}  // namespace vigil::app
