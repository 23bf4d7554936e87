// libFuzzer target: the password-file and ACL parsers on arbitrary text, then ACL decisions
// for the parsed rules. Parse errors must be config_error, never a crash or another exception.
// A subscription's scope must agree with the per-message check: a filter judged `all` never
// matches a topic that may not be read, one judged `none` never matches one that may.
#include <vigil/auth/acl.hpp>

#include <vigil/auth/password.hpp>
#include <vigil/config/settings.hpp>
#include <vigil/core/topic.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    try {
        const auto users = vigil::auth::password_file::parse(text, "fuzz");
        (void)users.find("car7");
    } catch (const vigil::config::config_error&) {
    }
    try {
        const auto acl = vigil::auth::acl::parse(text, "fuzz");
        // Decisions on a few fixed identities and on the input's own first line as a topic.
        const std::string_view first = text.substr(0, std::min(text.find('\n'), text.size()));
        const std::string_view topics[] = {"devices/car7/location", "$SYS/x", "devices/secret/x", first};
        const std::string_view filters[] = {"#", "devices/+/location", "devices/#", "+/+/x", first};
        for (const auto& p :
             {acl.for_client("car7", "car7"), acl.for_client("dispatch", "%c"), acl.for_client("", "a/b")}) {
            for (const std::string_view topic : topics) {
                if (!vigil::topic::valid_name(topic) || !vigil::topic::valid_utf8(topic)) {
                    continue;
                }
                (void)p.may_write(topic);
                const bool readable = p.may_read(topic);
                for (const std::string_view filter : filters) {
                    if (!vigil::topic::valid_filter(filter) || !vigil::topic::valid_utf8(filter) ||
                        !vigil::topic::matches(filter, topic)) {
                        continue;
                    }
                    const auto scope = p.scope_of(filter);
                    if ((scope == vigil::auth::read_scope::all && !readable) ||
                        (scope == vigil::auth::read_scope::none && readable)) {
                        std::abort();
                    }
                }
            }
        }
    } catch (const vigil::config::config_error&) {
    }
    return 0;
}
