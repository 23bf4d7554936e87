// libFuzzer target: the MQTT decoder on arbitrary bytes, then a re-encode/re-decode
// round trip of whatever it accepted (the encoder must reproduce a decodable packet).
#include <vigil/mqtt/codec/codec.hpp>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace vigil::mqtt;
    const codec_limits lim{4096};
    std::span<const std::uint8_t> in{data, size};
    while (!in.empty()) {
        packet p;
        const auto r = decode(in, p, lim);
        if (r.status != decode_status::complete) {
            break;
        }
        if (r.consumed == 0 || r.consumed > in.size()) {
            std::abort();
        }
        std::vector<std::uint8_t> wire;
        encode(p, wire);
        packet again;
        const auto r2 = decode(wire, again, codec_limits{1 << 20});
        if (r2.status != decode_status::complete || r2.consumed != wire.size() || again.index() != p.index()) {
            std::abort();
        }
        in = in.subspan(r.consumed);
    }
    return 0;
}
