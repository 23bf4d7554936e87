// Codec micro-benchmarks: decode and encode of a typical device location PUBLISH.
#include <vigil/mqtt/codec/codec.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace vigil::mqtt;

const std::string payload = R"({"lat":48.8566,"lon":2.3522,"speed":42.5,"heading":270,"ts":1764460800})";

std::vector<std::uint8_t> location_publish() {
    std::vector<std::uint8_t> wire;
    encode(publish_packet{"devices/veh-00417/location",
                          {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                          vigil::qos::at_most_once,
                          false,
                          false,
                          0},
           wire);
    return wire;
}

void bm_decode_publish(benchmark::State& state) {
    const auto wire = location_publish();
    const codec_limits lim{};
    for (auto _ : state) {
        packet p;
        benchmark::DoNotOptimize(decode(wire, p, lim));
        benchmark::DoNotOptimize(p);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}
BENCHMARK(bm_decode_publish);

void bm_encode_publish(benchmark::State& state) {
    const publish_packet p{"devices/veh-00417/location",
                           {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                           vigil::qos::at_least_once,
                           false,
                           false,
                           7};
    std::vector<std::uint8_t> out;
    for (auto _ : state) {
        out.clear();
        encode(p, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(bm_encode_publish);

void bm_make_message(benchmark::State& state) {
    for (auto _ : state) {
        auto m = vigil::message::make("devices/veh-00417/location",
                                      {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                                      vigil::qos::at_most_once, false);
        benchmark::DoNotOptimize(m);
    }
}
BENCHMARK(bm_make_message);

}  // namespace

BENCHMARK_MAIN();
