#pragma once
/// Which session an accepted CONNECT gets, decided without I/O: whether a session already held
/// under its client id refuses it, ends another connection (takeover), continues, or is replaced.
///
/// - A client id held by a `/ws` dashboard, or whose session belongs to another identity, is
///   refused: taking it over would hand another device its queued commands and kick it off at
///   every reconnect.
/// - A connection still open under the client id is closed [MQTT-3.1.4-2]: as taken over (its
///   will goes out, as in Mosquitto 2.x), or, when both use a persistent session, as continued
///   (no will).
/// - A clean session discards a stored one [MQTT-3.1.2-6]; a persistent one resumes it (CONNACK
///   session present [MQTT-3.2.2-2]) or starts one.
/// - A new persistent session, or one stored without an owner and bound now, counts toward its
///   identity's max_sessions_per_identity.

#include <vigil/core/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::mqtt {

/// The session already held under the client id.
struct existing_session {
    bool persistent = false;
    bool online = false;               ///< an MQTT connection is attached
    bool held_by_dashboard = false;    ///< a `/ws` dashboard uses the client id
    std::optional<std::string> owner;  ///< the identity that owns it, when known
};

struct session_plan {
    enum class take : std::uint8_t { new_clean, new_persistent, resume };

    std::string refusal;  ///< not empty: refuse (CONNACK 0x05), and why
    bool counts_toward_identity = false;
    error_code close_old;           ///< set: the open connection closes with this reason first
    bool discard_existing = false;  ///< the stored session is removed first
    take session = take::new_clean;
};

[[nodiscard]] session_plan plan_session(std::string_view client_id, bool clean_session, std::string_view identity,
                                        const std::optional<existing_session>& existing);

}  // namespace vigil::mqtt
