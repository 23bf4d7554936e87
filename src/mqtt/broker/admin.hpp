#pragma once
// The broker's side of the admin API: each operation runs on the shards that own what it
// reads or changes, and the caller (never a shard) waits for their answers, at most 2 s each.

#include <vigil/mqtt/broker/broker.hpp>

#include <optional>
#include <string>
#include <vector>

namespace vigil::mqtt {

struct broker_core;

[[nodiscard]] std::vector<client_info> connected_clients(broker_core& core, std::size_t limit);
[[nodiscard]] std::optional<client_info> find_session(broker_core& core, const std::string& client_id);
[[nodiscard]] bool disconnect_client(broker_core& core, const std::string& client_id, bool discard);
[[nodiscard]] bool clear_retained(broker_core& core, const std::string& topic);

}  // namespace vigil::mqtt
