// qos1_bench: how many QoS 1 PUBLISHes per second a broker acknowledges, and how long each
// PUBACK takes, with P publishers each keeping W messages in flight. An optional persistent
// subscriber (clean session off, QoS 1, acknowledging everything) makes every message a
// durable effect: vigil writes it to its store before the PUBACK (durable mode).
// Works against any MQTT 3.1.1 broker.
#include "measure.hpp"

#include <vigil/mqtt/codec/codec.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using vigil::qos;
namespace mqtt = vigil::mqtt;

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::uint16_t port = 1883;
    std::size_t publishers = 10;
    std::size_t window = 32;
    double seconds = 5;
    std::size_t payload = 64;
    bool subscriber = false;
    int server_pid = 0;
    std::string label = "run";
};

struct totals {
    std::uint64_t acked = 0;
    std::uint64_t received = 0;  // by the subscriber
    std::vector<std::uint32_t> latency_us;
    bool measuring = false;
};

/// One connection: CONNECT, then either publishes with a window or subscribes and acks.
class client : public std::enable_shared_from_this<client> {
public:
    client(asio::io_context& ioc, tcp::endpoint ep, std::string id, bool clean, totals& t)
        : sock_(ioc), ep_(ep), id_(std::move(id)), clean_(clean), t_(t), rx_(1 << 16) {}

    void start(std::function<void()> ready) {
        ready_ = std::move(ready);
        sock_.async_connect(ep_, [self = shared_from_this()](boost::system::error_code ec) {
            if (ec) {
                std::fprintf(stderr, "connect %s: %s\n", self->id_.c_str(), ec.message().c_str());
                std::exit(1);
            }
            self->sock_.set_option(tcp::no_delay(true));
            mqtt::connect_packet c;
            c.client_id = self->id_;
            c.clean_session = self->clean_;
            mqtt::encode(c, self->pending_);
            self->flush();
            self->read();
        });
    }

    void subscribe(const std::string& filter, std::function<void()> done) {
        ready_ = std::move(done);
        mqtt::encode(mqtt::subscribe_packet{1, {{filter, qos::at_least_once}}}, pending_);
        flush();
    }

    /// Starts publishing to `topic`, W at a time, until stop().
    void publish(std::string topic, std::size_t window, std::size_t payload) {
        topic_ = std::move(topic);
        payload_.assign(payload, 'x');
        sent_at_.assign(65536, {});
        publishing_ = true;
        for (std::size_t i = 0; i < window; ++i) {
            send_one();
        }
        flush();
    }
    void stop() { publishing_ = false; }
    void close() {
        boost::system::error_code ignored;
        sock_.close(ignored);
    }

private:
    void send_one() {
        next_id_ = static_cast<std::uint16_t>(next_id_ == 65535 ? 1 : next_id_ + 1);
        sent_at_[next_id_] = clock_type::now();
        mqtt::encode(mqtt::publish_packet{topic_, payload_, qos::at_least_once, false, false, next_id_}, pending_);
    }

    void on_packet(const mqtt::packet& p) {
        if (std::holds_alternative<mqtt::connack_packet>(p) || std::holds_alternative<mqtt::suback_packet>(p)) {
            if (ready_) {
                auto f = std::move(ready_);
                f();
            }
        } else if (const auto* a = std::get_if<mqtt::puback_packet>(&p)) {
            if (t_.measuring) {
                ++t_.acked;
                const auto us =
                    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - sent_at_[a->packet_id]);
                t_.latency_us.push_back(static_cast<std::uint32_t>(us.count()));
            }
            if (publishing_) {
                send_one();
            }
        } else if (const auto* pub = std::get_if<mqtt::publish_packet>(&p)) {
            if (t_.measuring) {
                ++t_.received;
            }
            if (pub->q == qos::at_least_once) {
                mqtt::encode(mqtt::puback_packet{pub->packet_id}, pending_);
            }
        }
    }

    void read() {
        sock_.async_read_some(asio::buffer(rx_.data() + rx_len_, rx_.size() - rx_len_),
                              [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                  if (ec) {
                                      return;
                                  }
                                  self->rx_len_ += n;
                                  std::size_t off = 0;
                                  for (;;) {
                                      mqtt::packet p;
                                      const auto r = mqtt::decode({self->rx_.data() + off, self->rx_len_ - off}, p,
                                                                  mqtt::codec_limits{1 << 24});
                                      if (r.status != mqtt::decode_status::complete) {
                                          break;
                                      }
                                      self->on_packet(p);
                                      off += r.consumed;
                                  }
                                  std::memmove(self->rx_.data(), self->rx_.data() + off, self->rx_len_ - off);
                                  self->rx_len_ -= off;
                                  if (self->rx_len_ == self->rx_.size()) {
                                      self->rx_.resize(self->rx_.size() * 2);
                                  }
                                  self->flush();
                                  self->read();
                              });
    }

    void flush() {
        if (!writing_.empty() || pending_.empty() || !sock_.is_open()) {
            return;
        }
        writing_.swap(pending_);
        asio::async_write(sock_, asio::buffer(writing_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              self->writing_.clear();
                              if (!ec) {
                                  self->flush();
                              }
                          });
    }

    tcp::socket sock_;
    tcp::endpoint ep_;
    std::string id_;
    bool clean_;
    totals& t_;
    std::function<void()> ready_;
    std::vector<std::uint8_t> rx_;
    std::size_t rx_len_ = 0;
    std::vector<std::uint8_t> pending_;
    std::vector<std::uint8_t> writing_;
    std::string topic_;
    std::vector<std::uint8_t> payload_;
    std::vector<clock_type::time_point> sent_at_;
    std::uint16_t next_id_ = 0;
    bool publishing_ = false;
};

options parse(int argc, char** argv) {
    const vigil::bench::command_line cl(
        argc, argv, {"subscriber"},
        "usage: qos1_bench [--port N] [--publishers P] [--window W] [--seconds D] [--payload B]\n"
        "                  [--subscriber] [--server-pid PID] [--label L]\n");
    options o;
    o.subscriber = cl.flag("subscriber");
    cl.get("port", o.port);
    cl.get("publishers", o.publishers);
    cl.get("window", o.window);
    cl.get("seconds", o.seconds);
    cl.get("payload", o.payload);
    cl.get("server-pid", o.server_pid);
    cl.get("label", o.label);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    asio::io_context ioc{1};
    const tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), o.port};
    totals t;
    std::size_t pending = 0;
    auto run_until = [&ioc](auto pred) {
        while (!pred()) {
            ioc.run_for(std::chrono::milliseconds{1});
            if (ioc.stopped()) {
                ioc.restart();
            }
        }
    };
    std::shared_ptr<client> sub;
    if (o.subscriber) {
        sub = std::make_shared<client>(ioc, ep, "qos1-bench-sub", false, t);
        pending = 1;
        sub->start([&] { sub->subscribe("bench/qos1/#", [&] { pending = 0; }); });
        run_until([&] { return pending == 0; });
    }
    std::vector<std::shared_ptr<client>> pubs;
    pending = o.publishers;
    for (std::size_t i = 0; i < o.publishers; ++i) {
        pubs.push_back(std::make_shared<client>(ioc, ep, "qos1-bench-pub-" + std::to_string(i), true, t));
        pubs.back()->start([&] { --pending; });
    }
    run_until([&] { return pending == 0; });
    for (std::size_t i = 0; i < pubs.size(); ++i) {
        pubs[i]->publish("bench/qos1/" + std::to_string(i), o.window, o.payload);
    }
    // Warm up for a fifth of the run, then measure.
    const auto warm = clock_type::now() +
                      std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds / 5));
    run_until([&] { return clock_type::now() >= warm; });
    t.measuring = true;
    const double cpu0 = vigil::bench::cpu_seconds(o.server_pid);
    const auto t0 = clock_type::now();
    const auto end = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
    run_until([&] { return clock_type::now() >= end; });
    t.measuring = false;
    const double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
    const double cpu = o.server_pid > 0 ? (vigil::bench::cpu_seconds(o.server_pid) - cpu0) / wall : -1;
    for (auto& p : pubs) {
        p->stop();
    }
    std::printf(
        "%-18s pubs=%zu window=%zu acked=%.0f/s subscriber=%.0f/s puback p50=%.2fms p99=%.2fms max=%.2fms "
        "server_cpu=%.2f\n",
        o.label.c_str(), o.publishers, o.window, static_cast<double>(t.acked) / wall,
        static_cast<double>(t.received) / wall, vigil::bench::percentile_ms(t.latency_us, 0.5),
        vigil::bench::percentile_ms(t.latency_us, 0.99),
        t.latency_us.empty() ? 0 : *std::max_element(t.latency_us.begin(), t.latency_us.end()) / 1000.0, cpu);
    for (auto& p : pubs) {
        p->close();
    }
    if (sub) {
        sub->close();
    }
    return 0;
}
