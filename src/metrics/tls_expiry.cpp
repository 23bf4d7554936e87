// When the TLS files the listeners serve expire: an expired certificate or a stale CRL is an
// outage nobody sees coming unless something watches the date.

#include <vigil/metrics/exposition.hpp>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <set>
#include <utility>

namespace vigil::metrics {
namespace {

struct bio_free {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
};
struct crl_free {
    void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};

std::optional<double> seconds(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return std::nullopt;
    }
    return static_cast<double>(::timegm(&tm));
}

/// The earliest time `when` gives for the PEM objects `read` finds in `file` (or the first's
/// only); nullopt when the file holds none or cannot be read.
template <typename T, typename Free>
std::optional<double> earliest(const std::string& file, T* (*read)(BIO*, T**, pem_password_cb*, void*), Free free,
                               const ASN1_TIME* (*when)(const T*), bool first_only) {
    std::unique_ptr<BIO, bio_free> in{BIO_new_file(file.c_str(), "r")};
    if (!in) {
        return std::nullopt;
    }
    std::optional<double> first;
    while (std::unique_ptr<T, Free> x{read(in.get(), nullptr, nullptr, nullptr), free}) {
        const auto t = seconds(when(x.get()));
        if (!t) {
            return std::nullopt;
        }
        first = first ? std::min(*first, *t) : *t;
        if (first_only) {
            break;
        }
    }
    return first;
}

}  // namespace

std::vector<tls_expiry> read_tls_expiry(const config::settings& s) {
    std::vector<tls_expiry> out;
    std::set<std::pair<std::string, std::string>> seen;
    auto add = [&](const char* kind, const std::string& file) {
        if (file.empty() || !seen.emplace(kind, file).second) {
            return;
        }
        const std::string k{kind};
        out.push_back({k, file,
                       k == "crl"
                           ? earliest(file, PEM_read_bio_X509_CRL, crl_free{}, X509_CRL_get0_nextUpdate, false)
                           : earliest(file, PEM_read_bio_X509, x509_free{}, X509_get0_notAfter, k == "certificate")});
    };
    auto listener = [&](const std::optional<config::tls_listener_settings>& tls) {
        if (tls) {
            add("certificate", tls->cert);
            add("ca", tls->ca);
            add("crl", tls->crl);
        }
    };
    for (const auto& l : s.listeners) {
        listener(l.tls);
    }
    for (const auto& l : s.http_listeners) {
        listener(l.tls);
    }
    return out;
}

}  // namespace vigil::metrics
