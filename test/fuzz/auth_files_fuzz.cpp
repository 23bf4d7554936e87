// libFuzzer target: the password-file and ACL parsers on arbitrary text, then ACL decisions
// for the parsed rules. Parse errors must be config_error, never a crash or another exception.
#include <vigil/auth/acl.hpp>

#include <vigil/auth/password.hpp>
#include <vigil/config/settings.hpp>

#include <cstdint>
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
        for (const std::string_view topic : {std::string_view{"devices/car7/location"}, std::string_view{"$SYS/x"}, first}) {
            if (!topic.empty()) {
                (void)acl.allow_publish("car7", "car7", topic);
                (void)acl.allow_subscribe("dispatch", "%c", topic);
            }
        }
    } catch (const vigil::config::config_error&) {
    }
    return 0;
}
