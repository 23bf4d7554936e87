// libFuzzer target: WebSocket framing (MQTT over WebSocket) on arbitrary client bytes. The
// same bytes fed whole and fed in pieces (sizes taken from the input) must decode to the same
// payload, status and control output, and never to more payload than came in.
#include <vigil/net/ws_framing.hpp>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using vigil::net::ws_framing;
    if (size < 1) {
        return 0;
    }
    const std::size_t step = 1 + data[0] % 17;
    const std::span<const std::uint8_t> in{data + 1, size - 1};

    ws_framing whole;
    std::vector<std::uint8_t> out1;
    const auto s1 = whole.feed(in, out1);
    std::vector<std::uint8_t> ctrl1;
    whole.take_output(ctrl1);

    ws_framing pieces;
    std::vector<std::uint8_t> out2;
    auto s2 = ws_framing::status::ok;
    for (std::size_t at = 0; at < in.size() && s2 == ws_framing::status::ok; at += step) {
        s2 = pieces.feed(in.subspan(at, std::min(step, in.size() - at)), out2);
    }
    std::vector<std::uint8_t> ctrl2;
    pieces.take_output(ctrl2);

    if (s1 != s2 || out1 != out2 || ctrl1 != ctrl2 || out1.size() > in.size()) {
        std::abort();
    }
    return 0;
}
