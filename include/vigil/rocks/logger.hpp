#pragma once
/// RocksDB's own messages (warnings and worse) for vigil's log, for the store and the archive:
/// not a LOG file in the database's directory. That file sits on the same disk, and when the
/// disk is full RocksDB's next append to it after a failed one ends in an assertion in
/// Debian's build (the process aborts). Used only by the modules that include RocksDB.

#include <rocksdb/env.h>

#include <memory>

namespace vigil::rocks {

/// A logger that forwards RocksDB's warnings and errors to vigil's log.
[[nodiscard]] std::shared_ptr<rocksdb::Logger> make_logger();

}  // namespace vigil::rocks
