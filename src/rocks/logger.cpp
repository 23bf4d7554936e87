#include <vigil/rocks/logger.hpp>

#include <vigil/core/log.hpp>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace vigil::rocks {
namespace {

class log_forwarder final : public rocksdb::Logger {
public:
    log_forwarder() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::WARN_LEVEL, format, ap); }
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        if (level < GetInfoLogLevel()) {
            return;
        }
        char buf[1024];
        // RocksDB hands over its own printf-style formats.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        std::vsnprintf(buf, sizeof buf, format, ap);
#pragma GCC diagnostic pop
        // What a backup makes RocksDB say at warn that is no warning: nested
        // DisableFileDeletions, and a log file it listed that a flush had already retired.
        if (std::strstr(buf, "File Deletions") != nullptr || std::strstr(buf, "already moved to archive") != nullptr) {
            return;
        }
        if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
            log::error("rocksdb: {}", buf);
        } else {
            log::warn("rocksdb: {}", buf);
        }
    }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> make_logger() { return std::make_shared<log_forwarder>(); }

}  // namespace vigil::rocks
