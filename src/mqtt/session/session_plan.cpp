#include <vigil/mqtt/session/session_plan.hpp>

#include <vigil/mqtt/codec/errc.hpp>

#include <fmt/format.h>

namespace vigil::mqtt {

session_plan plan_session(std::string_view client_id, bool clean_session, std::string_view identity,
                          const std::optional<existing_session>& existing) {
    session_plan p;
    if (existing && existing->held_by_dashboard) {
        p.refusal = fmt::format("client id '{}' is in use by a WebSocket dashboard", client_id);
        return p;
    }
    if (existing && existing->owner && *existing->owner != identity) {
        p.refusal = fmt::format("client id '{}' belongs to identity '{}'", client_id, *existing->owner);
        return p;
    }
    p.counts_toward_identity = !clean_session && (!existing || !existing->owner || !existing->persistent);
    if (existing && existing->online) {
        p.close_old = make_error_code(existing->persistent && !clean_session ? errc::session_continued
                                                                             : errc::session_taken_over);
    }
    // A clean session ends with its connection; anything else stays until replaced.
    const bool survives = existing && (existing->persistent || !existing->online);
    if (clean_session) {
        p.discard_existing = survives;
        p.session = session_plan::take::new_clean;
    } else {
        p.session = survives ? session_plan::take::resume : session_plan::take::new_persistent;
    }
    return p;
}

}  // namespace vigil::mqtt
