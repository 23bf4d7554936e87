// Router matching: the global index with N device filters plus dashboard wildcards.
#include <vigil/router/filter_index.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace vigil::router;

void bm_match(benchmark::State& state) {
    index_writer w;
    const auto devices = static_cast<int>(state.range(0));
    for (int i = 0; i < devices; ++i) {
        w.add("devices/veh-" + std::to_string(i) + "/commands", static_cast<unsigned>(i % 2));
    }
    w.add("devices/+/location", 0);
    w.add("devices/+/location", 1);
    w.add("devices/+/status", 0);
    w.add("devices/#", 1);
    snapshot s{w};
    const std::string topic = "devices/veh-" + std::to_string(devices / 2) + "/location";
    for (auto _ : state) {
        int n = 0;
        s.current()->match(topic, [&n](const index_node&) { ++n; });
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(bm_match)->Arg(100)->Arg(10000)->Arg(100000);

void bm_subscribe_unsubscribe(benchmark::State& state) {
    index_writer w;
    const auto devices = static_cast<int>(state.range(0));
    for (int i = 0; i < devices; ++i) {
        w.add("devices/veh-" + std::to_string(i) + "/commands", 0);
    }
    for (auto _ : state) {
        w.add("devices/new/commands", 1);
        w.remove("devices/new/commands", 1);
    }
}
BENCHMARK(bm_subscribe_unsubscribe)->Arg(100)->Arg(10000)->Arg(100000);

}  // namespace

BENCHMARK_MAIN();
