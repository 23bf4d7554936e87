#include "scenario.hpp"

#include <toml++/toml.h>

#include <functional>
#include <map>
#include <stdexcept>

namespace vigil::bench {
namespace {

using setter = std::function<void(scenario&, const toml::node&)>;

template <class T>
setter number(T scenario::*field) {
    return [field](scenario& s, const toml::node& n) {
        if (const auto v = n.value<double>()) {
            if (*v < 0) {
                throw std::runtime_error("must not be negative");
            }
            s.*field = static_cast<T>(*v);
            return;
        }
        throw std::runtime_error("must be a number");
    };
}

setter flag(bool scenario::*field) {
    return [field](scenario& s, const toml::node& n) {
        const auto v = n.value<bool>();
        if (!v) {
            throw std::runtime_error("must be true or false");
        }
        s.*field = *v;
    };
}

setter text(std::string scenario::*field) {
    return [field](scenario& s, const toml::node& n) {
        const auto v = n.value<std::string>();
        if (!v) {
            throw std::runtime_error("must be a string");
        }
        s.*field = *v;
    };
}

setter streams(std::vector<std::string> scenario::*field) {
    return [field](scenario& s, const toml::node& n) {
        const auto* arr = n.as_array();
        if (arr == nullptr) {
            throw std::runtime_error("must be an array such as [\"location\", \"status\"]");
        }
        (s.*field).clear();
        for (const auto& item : *arr) {
            const auto v = item.value<std::string>();
            if (!v) {
                throw std::runtime_error("must hold strings");
            }
            (void)stream_index(*v);
            (s.*field).push_back(*v);
        }
    };
}

setter jitters() {
    return [](scenario& s, const toml::node& n) {
        const auto* arr = n.as_array();
        if (arr == nullptr) {
            throw std::runtime_error("must be an array of milliseconds");
        }
        s.storm_jitter_ms.clear();
        for (const auto& item : *arr) {
            s.storm_jitter_ms.push_back(static_cast<unsigned>(item.value<double>().value_or(0)));
        }
    };
}

const std::map<std::string, setter>& keys() {
    static const std::map<std::string, setter> k{
        {"name", text(&scenario::name)},
        {"description", text(&scenario::description)},
        {"devices", number(&scenario::devices)},
        {"tls", flag(&scenario::tls)},
        {"location_hz", number(&scenario::location_hz)},
        {"status_interval_s", number(&scenario::status_interval_s)},
        {"events_per_min", number(&scenario::events_per_min)},
        {"payload_bytes", number(&scenario::payload_bytes)},
        {"will", flag(&scenario::will)},
        {"churn_per_s", number(&scenario::churn_per_s)},
        {"dashboards", number(&scenario::dashboards)},
        {"watch", number(&scenario::watch)},
        {"dashboard_streams", streams(&scenario::dashboard_streams)},
        {"subscribers", number(&scenario::subscribers)},
        {"subscriber_qos", number(&scenario::subscriber_qos)},
        {"subscriber_streams", streams(&scenario::subscriber_streams)},
        {"seconds", number(&scenario::seconds)},
        {"warmup_seconds", number(&scenario::warmup_seconds)},
        {"ramp", flag(&scenario::ramp)},
        {"ramp_factor", number(&scenario::ramp_factor)},
        {"max_p99_ms", number(&scenario::max_p99_ms)},
        {"max_loss", number(&scenario::max_loss)},
        {"max_steps", number(&scenario::max_steps)},
        {"refine_steps", number(&scenario::refine_steps)},
        {"storm", flag(&scenario::storm)},
        {"storm_jitter_ms", jitters()},
    };
    return k;
}

void apply(scenario& s, const std::string& key, const toml::node& n, const std::string& where) {
    const auto it = keys().find(key);
    if (it == keys().end()) {
        throw std::runtime_error(where + ": unknown key '" + key + "'");
    }
    try {
        it->second(s, n);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(where + ": '" + key + "' " + e.what());
    }
}

void check(const scenario& s, const std::string& where) {
    if (s.subscriber_qos < 0 || s.subscriber_qos > 1) {
        throw std::runtime_error(where + ": 'subscriber_qos' must be 0 or 1");
    }
    if (s.devices == 0 || s.seconds <= 0 || (s.ramp && s.ramp_factor <= 1)) {
        throw std::runtime_error(where + ": needs devices > 0, seconds > 0 and ramp_factor > 1");
    }
}

}  // namespace

int stream_index(const std::string& name) {
    if (name == "location") {
        return 0;
    }
    if (name == "status") {
        return 1;
    }
    if (name == "events") {
        return 2;
    }
    throw std::runtime_error("unknown stream '" + name + "' (location, status, events)");
}

void scenario::set(const std::string& assignment) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos) {
        throw std::runtime_error("--set needs key=value, got '" + assignment + "'");
    }
    const std::string key = assignment.substr(0, eq);
    toml::table t;
    try {
        t = toml::parse("v = " + assignment.substr(eq + 1));
    } catch (const toml::parse_error&) {
        t = toml::parse("v = \"" + assignment.substr(eq + 1) + "\"");  // a bare string
    }
    apply(*this, key, *t.get("v"), "--set");
    check(*this, "--set");
    overrides.push_back(assignment);
}

scenario load_scenario(const std::string& path) {
    toml::table t;
    try {
        t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        throw std::runtime_error(path + ": " + std::string{e.description()});
    }
    scenario s;
    for (const auto& [k, v] : t) {
        apply(s, std::string{k.str()}, v, path);
    }
    check(s, path);
    return s;
}

}  // namespace vigil::bench
