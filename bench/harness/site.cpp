#include "site.hpp"

#include <vigil/config/settings.hpp>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <sys/utsname.h>
#include <unistd.h>

namespace vigil::bench {
namespace {

std::string replace_id(std::string pattern, const std::string& id) {
    for (std::size_t at = pattern.find("{id}"); at != std::string::npos; at = pattern.find("{id}", at + id.size())) {
        pattern.replace(at, 4, id);
    }
    return pattern;
}

template <class T, class Read>
std::shared_ptr<T> read_pem(const std::string& path, Read read, void (*free)(T*), const char* what) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
        throw std::runtime_error("cannot read " + std::string{what} + " " + path);
    }
    T* v = read(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (v == nullptr) {
        throw std::runtime_error(path + ": not a PEM " + what);
    }
    return {v, free};
}

std::string first_line_after(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(key)) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "";
}

}  // namespace

login_maker::login_maker(const site& s) : site_(s) {
    if (s.client_ca.empty() != s.client_ca_key.empty()) {
        throw std::runtime_error("--client-ca and --client-ca-key go together");
    }
    if (!s.client_ca.empty()) {
        ca_ = read_pem<X509>(s.client_ca, PEM_read_X509, X509_free, "certificate");
        ca_key_ = read_pem<EVP_PKEY>(s.client_ca_key, PEM_read_PrivateKey, EVP_PKEY_free, "private key");
        if (X509_check_private_key(ca_.get(), ca_key_.get()) != 1) {
            throw std::runtime_error(s.client_ca_key + " is not the key of " + s.client_ca);
        }
    }
}

login login_maker::make(const std::string& id) const {
    login l;
    l.username = replace_id(site_.username, id);
    l.password = replace_id(site_.password, id);
    if (!ca_) {
        return l;
    }
    l.key = {EVP_EC_gen("P-256"), EVP_PKEY_free};
    l.cert = {X509_new(), X509_free};
    X509* c = l.cert.get();
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
    BN_free(bn);
    X509_set_version(c, 2);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_NAME* name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(id.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(c, X509_get_subject_name(ca_.get()));
    X509_set_pubkey(c, l.key.get());
    if (l.key == nullptr || X509_sign(c, ca_key_.get(), EVP_sha256()) == 0) {
        throw std::runtime_error("cannot sign a client certificate for " + id + " with " + site_.client_ca_key);
    }
    return l;
}

host_info read_host() {
    host_info h;
    char name[256] = "";
    ::gethostname(name, sizeof name - 1);
    h.hostname = name;
    h.cpu = first_line_after("/proc/cpuinfo", "model name");
    h.cores = std::thread::hardware_concurrency();
    const std::string mem = first_line_after("/proc/meminfo", "MemTotal");
    h.memory_gib = mem.empty() ? 0 : std::stod(mem) / (1024.0 * 1024.0);
    utsname u{};
    if (::uname(&u) == 0) {
        h.kernel = std::string{u.sysname} + " " + u.release;
    }
    return h;
}

std::vector<std::pair<std::string, std::string>> server_settings(const std::string& path) {
    config::settings s;
    try {
        s = config::load_settings(path);
    } catch (const config::config_error& e) {
        throw std::runtime_error(std::string{"--server-config: "} + e.what());
    }
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back("workers", s.workers == 0 ? "one per core" : std::to_string(s.workers));
    out.emplace_back("durability", s.durability == config::durability_mode::durable ? "durable" : "fast");
    for (std::size_t i = 0; i < s.listeners.size(); ++i) {
        const auto& l = s.listeners[i];
        std::string v = l.bind + ":" + std::to_string(l.port);
        if (l.tls) {
            v += l.tls->require_certificate ? " TLS, client certificates required" : " TLS";
            v += l.tls->crl.empty() ? "" : ", CRL";
        }
        v += l.allow_anonymous ? ", anonymous allowed" : "";
        out.emplace_back("listener " + std::to_string(i), v);
    }
    out.emplace_back("passwords", s.auth.password_file.empty() ? "off" : "on");
    out.emplace_back("acl", s.auth.acl_file.empty() ? "off" : "on");
    out.emplace_back("api tokens", s.http.tokens_file.empty() && s.http.tokens.empty() ? "off" : "on");
    out.emplace_back("archive",
                     s.archive.topics.empty() ? "off" : std::to_string(s.archive.topics.size()) + " filters");
    out.emplace_back("max_inflight", std::to_string(s.limits.max_inflight));
    out.emplace_back("max_queued", std::to_string(s.limits.max_queued));
    out.emplace_back("max_connections", std::to_string(s.limits.max_connections));
    out.emplace_back("max_publish_rate",
                     s.limits.max_publish_rate == 0 ? "unlimited" : std::to_string(s.limits.max_publish_rate));
    return out;
}

}  // namespace vigil::bench
