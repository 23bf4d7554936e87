// vigil-bench: capacity planning for a device fleet and its dashboards against any MQTT 3.1.1
// broker (dashboards need vigil's /ws). See bench/scenarios/ and the README.
#include "report.hpp"
#include "runner.hpp"
#include "scenario.hpp"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr const char* usage =
    "usage: vigil-bench SCENARIO.toml [--host H] [--port MQTT_PORT] [--http-port HTTP_PORT]\n"
    "                   [--server-pid PID] [--broker NAME] [--set key=value]... [--out DIR]\n"
    "Runs the scenario, prints a summary, writes DIR/<scenario>-<broker>.json and .html\n"
    "(DIR defaults to bench/out). --set overrides a scenario key, e.g. --set devices=5000.\n";

void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream f(p);
    f << text;
    if (!f) {
        throw std::runtime_error("cannot write " + p.string());
    }
}

}  // namespace

int main(int argc, char** argv) {
    namespace vb = vigil::bench;
    try {
        if (argc < 2 || std::string{argv[1]} == "--help") {
            std::fputs(usage, argc < 2 ? stderr : stdout);
            return argc < 2 ? 2 : 0;
        }
        vb::scenario sc = vb::load_scenario(argv[1]);
        vb::target tg;
        std::filesystem::path out = "bench/out";
        for (int i = 2; i < argc; ++i) {
            const std::string a = argv[i];
            if (i + 1 >= argc) {
                std::fputs(usage, stderr);
                return 2;
            }
            const std::string v = argv[++i];
            if (a == "--host") {
                tg.host = v;
            } else if (a == "--port") {
                tg.port = static_cast<std::uint16_t>(std::stoi(v));
            } else if (a == "--http-port") {
                tg.http_port = static_cast<std::uint16_t>(std::stoi(v));
            } else if (a == "--server-pid") {
                tg.server_pid = std::stoi(v);
            } else if (a == "--broker") {
                tg.broker = v;
            } else if (a == "--set") {
                sc.set(v);
            } else if (a == "--out") {
                out = v;
            } else {
                std::fputs(usage, stderr);
                return 2;
            }
        }
        const vb::run_result r = vb::run_scenario(sc, tg);
        const std::string summary = vb::summary_text(r);
        std::fputs(summary.c_str(), stdout);
        std::filesystem::create_directories(out);
        const auto base = out / (sc.name + "-" + tg.broker);
        write_file(base.string() + ".json", vb::json_report(r));
        write_file(base.string() + ".html", vb::html_report(r));
        std::printf("reports: %s.json, %s.html\n", base.c_str(), base.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vigil-bench: %s\n", e.what());
        return 1;
    }
}
