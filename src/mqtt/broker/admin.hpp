#pragma once
// The broker's side of the admin API: each operation runs on the shards that own what it
// reads or changes, and the caller (never a shard) waits for their answers, at most 2 s each.

#include <vigil/mqtt/broker/broker.hpp>

#include <optional>
#include <string>
#include <vector>

namespace vigil::mqtt {

struct broker_core;

[[nodiscard]] broker::client_list connected_clients(broker_core& core, std::size_t limit);
[[nodiscard]] broker::session_lookup find_session(broker_core& core, const std::string& client_id);
[[nodiscard]] broker::admin_result disconnect_client(broker_core& core, const std::string& client_id, bool discard);
[[nodiscard]] broker::admin_result clear_retained(broker_core& core, const std::string& topic);

}  // namespace vigil::mqtt
