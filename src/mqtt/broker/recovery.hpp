#pragma once
// Startup recovery: retained messages, last values, persistent sessions (subscriptions,
// queued and in-flight messages, QoS 2 receive state) and wills, from the store; and the
// archive's staged records.

#include "shard.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace vigil::mqtt {

struct recovery_summary {
    std::size_t retained = 0;
    std::size_t last_values = 0;
    std::size_t sessions = 0;
    std::size_t subscriptions = 0;
    std::size_t messages = 0;      ///< queued and in-flight QoS 1/2 messages
    std::size_t wills = 0;         ///< published because their devices were connected at the crash
    std::size_t wills_denied = 0;  ///< not published: the rules in force do not allow them
    std::size_t history = 0;       ///< acknowledged messages staged for the archive at a crash, written to it now
    std::chrono::milliseconds elapsed{0};
};

/// Lets the store's staged copies of these archive records go, now the archive has them
/// (without fsync: a copy that survives a crash is written again under the same key).
void release_staged(store::store& db, std::vector<std::string> keys);

/// Loads everything into `core` and its shards. Call before the shard threads start.
/// Errors: throws store::store_error on a damaged record (nothing is discarded).
[[nodiscard]] recovery_summary recover(broker_core& core);

}  // namespace vigil::mqtt
