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
    "                   [--ca FILE] [--server-name NAME] [--client-ca FILE --client-ca-key FILE]\n"
    "                   [--username U --password-file FILE] [--token-file FILE] [--server-config FILE]\n"
    "Runs the scenario, prints a summary and a verdict against its targets, writes\n"
    "DIR/<scenario>-<broker>.json and .html (DIR defaults to bench/out). --set overrides a scenario\n"
    "key, e.g. --set devices=5000. A production site: --ca verifies the server's certificate (name:\n"
    "--server-name, default --host); --client-ca/--client-ca-key sign a certificate per client (CN =\n"
    "its client id); --username (\"{id}\" becomes the client id) with the password in a file;\n"
    "--token-file holds the dashboards' API token; --server-config puts the server's settings in the report.\n";

std::string first_line(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    if (!f || !std::getline(f, line)) {
        throw std::runtime_error("cannot read " + path);
    }
    return line;
}

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
            } else if (a == "--ca") {
                tg.production.ca = v;
            } else if (a == "--server-name") {
                tg.production.server_name = v;
            } else if (a == "--client-ca") {
                tg.production.client_ca = v;
            } else if (a == "--client-ca-key") {
                tg.production.client_ca_key = v;
            } else if (a == "--username") {
                tg.production.username = v;
            } else if (a == "--password-file") {
                tg.production.password = first_line(v);
            } else if (a == "--token-file") {
                tg.production.token = first_line(v);
            } else if (a == "--server-config") {
                tg.production.server_config = v;
            } else {
                std::fputs(usage, stderr);
                return 2;
            }
        }
        auto settings = tg.production.server_config.empty() ? decltype(vb::server_settings("")){}
                                                            : vb::server_settings(tg.production.server_config);
        vb::run_result r = vb::run_scenario(sc, tg);
        r.host = vb::read_host();
        r.server_settings = std::move(settings);
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
