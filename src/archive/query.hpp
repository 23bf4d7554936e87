#pragma once
// Reading the archive: the partitions a time range covers, the topics of a filter in each,
// merged into one time-ordered page.

#include <vigil/archive/archive.hpp>

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace vigil::archive {

struct partition_ref {
    std::int64_t day = 0;
    std::shared_ptr<rocksdb::ColumnFamilyHandle> handle;  // kept alive while it is read
};

/// `parts` in ascending day order. Reads what it returns plus one record per matching topic.
[[nodiscard]] page run_query(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q,
                             const std::function<bool(std::string_view)>& may_read);

/// Every record of `q` (q.limit: records per page handed to `each`), in its order, reading each
/// partition once: for exports, where paging by cursor would set up its readers again per page.
void run_scan(rocksdb::DB& db, const std::vector<partition_ref>& parts, const query& q,
              const std::function<void(const page&)>& each);

}  // namespace vigil::archive
