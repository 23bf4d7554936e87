// mqtt_load: P publishers x S subscribers over loopback against any MQTT 3.1.1 broker.
// Every subscriber subscribes to one filter that matches every publisher's topic, so each
// message is delivered S times. Reports deliveries/s, loss, order violations and latency
// percentiles; --ramp raises the offered rate until p99 or loss breaks a bound.
#include "load_client.hpp"
#include "measure.hpp"
#include "ws_client.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vb = vigil::bench;
namespace asio = boost::asio;

namespace {

struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883;
    std::size_t publishers = 600;
    std::size_t subscribers = 120;
    std::size_t ws_subscribers = 0;  // WebSocket dashboards on /ws (JSON payloads then)
    std::uint16_t http_port = 8080;
    double rate = 2.0;  // messages/s per publisher
    double seconds = 10;
    std::size_t payload = 64;
    std::string label = "run";
    bool ramp = false;
    double ramp_factor = 1.5;
    double max_p99_ms = 50;
    double max_loss = 0.001;
    int server_pid = 0;
};

struct step_result {
    double offered = 0;    // publishes/s
    double delivered = 0;  // deliveries/s
    std::uint64_t sent = 0;
    std::uint64_t expected = 0;
    std::uint64_t received = 0;
    std::uint64_t out_of_order = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // ms
    double server_cpu = -1;  // cores used by the server process, if known
};

class runner {
public:
    explicit runner(const options& o) : o_(o) {}

    void setup() {
        asio::ip::tcp::endpoint ep{asio::ip::make_address(o_.host), o_.port};
        std::size_t pending = o_.subscribers + o_.publishers + o_.ws_subscribers;
        auto ready = [&pending] { --pending; };
        const asio::ip::tcp::endpoint http_ep{asio::ip::make_address(o_.host), o_.http_port};
        for (std::size_t i = 0; i < o_.ws_subscribers; ++i) {
            auto w = std::make_shared<vb::ws_client>(ioc_, http_ep, &obs_, o_.publishers);
            w->start("devices/+/location", ready);
            dashboards_.push_back(w);
        }
        for (std::size_t i = 0; i < o_.subscribers; ++i) {
            auto c = std::make_shared<vb::load_client>(ioc_, ep, "load-sub-" + std::to_string(i), &obs_, o_.publishers);
            c->start([c, ready] { c->subscribe("devices/+/location", vigil::qos::at_most_once, ready); });
            subs_.push_back(c);
        }
        run_until([&pending, this] { return pending == o_.publishers; });  // subscribers first
        for (std::size_t i = 0; i < o_.publishers; ++i) {
            auto c = std::make_shared<vb::load_client>(ioc_, ep, "load-pub-" + std::to_string(i), nullptr, 0);
            c->start(ready);
            pubs_.push_back(c);
        }
        run_until([&pending] { return pending == 0; });
    }

    step_result run_step(double per_pub_rate, double seconds) {
        obs_ = {};
        obs_.latency_us.reserve(static_cast<std::size_t>(per_pub_rate * seconds * static_cast<double>(o_.publishers * o_.subscribers)) + 1024);
        std::vector<std::uint64_t> sent(pubs_.size(), 0);
        const double cpu0 = vb::cpu_seconds(o_.server_pid);
        const auto t0 = std::chrono::steady_clock::now();
        const auto end = t0 + std::chrono::duration<double>(seconds);
        asio::steady_timer tick(ioc_);
        bool sending = true;
        std::function<void()> on_tick = [&] {
            const auto now = std::chrono::steady_clock::now();
            if (now >= end) {
                sending = false;
                return;
            }
            const double elapsed = std::chrono::duration<double>(now - t0).count();
            for (std::size_t i = 0; i < pubs_.size(); ++i) {
                // Publishers are spread evenly over one period, as real devices are, instead
                // of all firing in the same instant.
                const double phase = static_cast<double>(i) / static_cast<double>(pubs_.size());
                const auto due = static_cast<std::uint64_t>(per_pub_rate * elapsed + phase);
                if (due > sent[i] && pubs_[i]->backlog() < (1u << 22)) {
                    pubs_[i]->publish("devices/" + std::to_string(i) + "/location", static_cast<std::uint32_t>(i), o_.payload, due - sent[i], o_.ws_subscribers > 0);
                    sent[i] = due;
                }
            }
            tick.expires_after(std::chrono::milliseconds{2});
            tick.async_wait([&](boost::system::error_code) { on_tick(); });
        };
        on_tick();
        run_until([&sending] { return !sending; });
        std::uint64_t total_sent = 0;
        for (auto s : sent) {
            total_sent += s;
        }
        const std::uint64_t expected = total_sent * (o_.ws_subscribers > 0 ? o_.ws_subscribers : o_.subscribers);
        // Drain: until everything arrived, or nothing new for 1 s.
        auto last_change = std::chrono::steady_clock::now();
        std::uint64_t last_count = obs_.received;
        run_until([&] {
            if (obs_.received != last_count) {
                last_count = obs_.received;
                last_change = std::chrono::steady_clock::now();
            }
            return obs_.received >= expected || std::chrono::steady_clock::now() - last_change > std::chrono::seconds{1};
        });
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        step_result r;
        r.offered = per_pub_rate * static_cast<double>(o_.publishers);
        r.sent = total_sent;
        r.expected = expected;
        r.received = obs_.received;
        r.out_of_order = obs_.out_of_order;
        r.delivered = static_cast<double>(obs_.received) / seconds;
        r.p50 = vb::percentile_ms(obs_.latency_us, 0.50);
        r.p90 = vb::percentile_ms(obs_.latency_us, 0.90);
        r.p99 = vb::percentile_ms(obs_.latency_us, 0.99);
        r.p999 = vb::percentile_ms(obs_.latency_us, 0.999);
        r.max = obs_.latency_us.empty() ? 0 : *std::max_element(obs_.latency_us.begin(), obs_.latency_us.end()) / 1000.0;
        if (cpu0 >= 0) {
            r.server_cpu = (vb::cpu_seconds(o_.server_pid) - cpu0) / wall;
        }
        return r;
    }

private:
    template <class Pred>
    void run_until(Pred pred) {
        while (!pred()) {
            ioc_.run_for(std::chrono::milliseconds{1});
            if (ioc_.stopped()) {
                ioc_.restart();
            }
        }
    }

    const options& o_;
    asio::io_context ioc_{1};
    vb::observations obs_;
    std::vector<std::shared_ptr<vb::load_client>> subs_;
    std::vector<std::shared_ptr<vb::load_client>> pubs_;
    std::vector<std::shared_ptr<vb::ws_client>> dashboards_;
};

void print(const options& o, const step_result& r) {
    const double loss = r.expected == 0 ? 0 : 1.0 - static_cast<double>(r.received) / static_cast<double>(r.expected);
    std::printf(
        "%-12s pubs=%zu subs=%zu ws=%zu offered=%.0f/s delivered=%.0f/s loss=%.4f%% ooo=%llu "
        "p50=%.2fms p90=%.2fms p99=%.2fms p99.9=%.2fms max=%.2fms server_cpu=%.2f\n",
        o.label.c_str(), o.publishers, o.subscribers, o.ws_subscribers, r.offered, r.delivered, loss * 100,
        static_cast<unsigned long long>(r.out_of_order), r.p50, r.p90, r.p99, r.p999, r.max, r.server_cpu
    );
    std::fflush(stdout);
}

options parse(int argc, char** argv) {
    const vb::command_line cl(argc, argv, {"ramp"},
        "usage: mqtt_load [--port N] [--publishers P] [--subscribers S] [--rate R per publisher]\n"
        "                 [--ws-subscribers W --http-port H]   (dashboards on /ws, JSON payloads)\n"
        "                 [--seconds D] [--payload B] [--label L] [--server-pid PID]\n"
        "                 [--ramp [--ramp-factor F] [--max-p99-ms M] [--max-loss X]]\n");
    options o;
    o.ramp = cl.flag("ramp");
    cl.get("host", o.host);
    cl.get("port", o.port);
    cl.get("publishers", o.publishers);
    cl.get("subscribers", o.subscribers);
    cl.get("ws-subscribers", o.ws_subscribers);
    cl.get("http-port", o.http_port);
    cl.get("rate", o.rate);
    cl.get("seconds", o.seconds);
    cl.get("payload", o.payload);
    cl.get("label", o.label);
    cl.get("ramp-factor", o.ramp_factor);
    cl.get("max-p99-ms", o.max_p99_ms);
    cl.get("max-loss", o.max_loss);
    cl.get("server-pid", o.server_pid);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    runner r{o};
    r.setup();
    if (!o.ramp) {
        print(o, r.run_step(o.rate, o.seconds));
        return 0;
    }
    // Ramp: raise the per-publisher rate until a step breaks the p99 or loss bound; the
    // last step that held is the sustained maximum.
    step_result best;
    for (double rate = o.rate;; rate *= o.ramp_factor) {
        const step_result s = r.run_step(rate, o.seconds);
        print(o, s);
        const double loss = s.expected == 0 ? 0 : 1.0 - static_cast<double>(s.received) / static_cast<double>(s.expected);
        if (s.p99 > o.max_p99_ms || loss > o.max_loss) {
            break;
        }
        best = s;
    }
    std::printf("%-12s MAX sustained: %.0f deliveries/s (offered %.0f publishes/s), p99=%.2fms\n", o.label.c_str(), best.delivered, best.offered, best.p99);
    return 0;
}
