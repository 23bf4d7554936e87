#pragma once
// `vigil db backup|restore|backups`: backups of the store and the archive, taken by the running
// vigil (asked through its control socket) or, when none runs on the data_dir, by this command.
// A backup directory DEST holds DEST/store and DEST/archive, each a RocksDB backup directory;
// a store backup and the archive backup made with it share its number.

#include <vigil/mqtt/broker/broker.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::app {

/// Runs `vigil db SUBCOMMAND ARGS...` for backup, restore and backups; returns the exit status.
int db_backup_main(const std::vector<std::string_view>& args);

/// The running vigil's answer to a control request ("backup DEST"): "ok REPORT" or
/// "error WHY"; the request and its outcome are logged with `peer`.
[[nodiscard]] std::string serve_control(const mqtt::broker& b, const std::filesystem::path& data_dir,
                                        std::string_view request, std::string_view peer);

}  // namespace vigil::app
