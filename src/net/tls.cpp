#include <vigil/net/tls.hpp>

#include <vigil/core/log.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/errc.hpp>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace vigil::net {
namespace {

constexpr const char* default_ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

std::string openssl_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return "unknown OpenSSL error";
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

SSL* as_ssl(void* p) { return static_cast<SSL*>(p); }
BIO* as_bio(void* p) { return static_cast<BIO*>(p); }

error_code tls_failure() { return make_error_code(boost::system::errc::protocol_error); }

/// A CRL past its next-update date makes OpenSSL refuse every client ("CRL has expired"):
/// warn a week ahead, so the operator publishes a new one before devices are locked out.
void warn_if_crl_stale(const X509_CRL* crl, const std::string& path) {
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
    int days = 0;
    int secs = 0;
    if (next == nullptr || ASN1_TIME_diff(&days, &secs, nullptr, next) != 1) {
        return;
    }
    if (days < 0 || (days == 0 && secs <= 0)) {
        log::error(
            "{}: the CRL's next-update date has passed: every client certificate is refused until a new CRL is loaded "
            "(SIGHUP)",
            path);
    } else if (days < 7) {
        log::warn(
            "{}: the CRL's next-update date is in {} days {} h: publish a new CRL before then, or clients will be "
            "refused",
            path, days, secs / 3600);
    }
}

}  // namespace

std::shared_ptr<const tls_context> tls_context::make(const tls_settings& s) {
    std::shared_ptr<tls_context> c(new tls_context());
    c->settings_ = s;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        throw std::runtime_error("TLS: " + openssl_reason());
    }
    c->ctx_ = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  // TLS 1.2 and 1.3 only
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // Resumption (TLS 1.2 session cache, TLS 1.3 tickets) makes a reconnect storm cheap; the
    // context id is required for it once client certificates are verified.
    static constexpr unsigned char session_context[] = "vigil";
    SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_num_tickets(ctx, 1);  // one TLS 1.3 ticket per handshake, not OpenSSL's two
    const std::string ciphers = s.ciphers.empty() ? default_ciphers : s.ciphers;
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        throw std::runtime_error(fmt::format("TLS ciphers '{}': {}", ciphers, openssl_reason()));
    }
    if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, s.ciphersuites.c_str()) != 1) {
        throw std::runtime_error(fmt::format("TLS ciphersuites '{}': {}", s.ciphersuites, openssl_reason()));
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, s.cert.c_str()) != 1) {
        throw std::runtime_error(
            fmt::format("{}: cannot load the TLS certificate chain: {}", s.cert, openssl_reason()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, s.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw std::runtime_error(fmt::format("{}: cannot load the TLS private key: {}", s.key, openssl_reason()));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        throw std::runtime_error(fmt::format("{}: the private key does not match {}", s.key, s.cert));
    }
    if (!s.ca.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, s.ca.c_str(), nullptr) != 1) {
            throw std::runtime_error(fmt::format("{}: cannot load the CA bundle: {}", s.ca, openssl_reason()));
        }
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca.c_str());
        if (names != nullptr) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
    }
    if (!s.crl.empty()) {
        BIO* in = BIO_new_file(s.crl.c_str(), "r");
        X509_CRL* crl = in != nullptr ? PEM_read_bio_X509_CRL(in, nullptr, nullptr, nullptr) : nullptr;
        BIO_free(in);
        if (crl == nullptr) {
            throw std::runtime_error(fmt::format("{}: cannot load the CRL: {}", s.crl, openssl_reason()));
        }
        warn_if_crl_stale(crl, s.crl);
        X509_STORE* store = SSL_CTX_get_cert_store(ctx);
        X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    if (s.require_certificate) {
        if (s.ca.empty()) {
            throw std::runtime_error("TLS require_certificate needs tls.ca (the CA that signs client certificates)");
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    } else if (!s.ca.empty()) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);  // optional client certificates
    }
    return c;
}

tls_context::~tls_context() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

tls_session::tls_session(std::shared_ptr<const tls_context> ctx) : ctx_(std::move(ctx)) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_->native()));
    if (ssl == nullptr) {
        throw std::runtime_error("TLS: " + openssl_reason());
    }
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio, -1);  // an empty input BIO means "more data later", not EOF
    SSL_set_bio(ssl, rbio, wbio);      // the SSL now owns both BIOs
    SSL_set_accept_state(ssl);
    ssl_ = ssl;
    rbio_ = rbio;
    wbio_ = wbio;
}

tls_session::~tls_session() { SSL_free(as_ssl(ssl_)); }

void tls_session::feed(std::span<const std::uint8_t> cipher) {
    BIO_write(as_bio(rbio_), cipher.data(), static_cast<int>(cipher.size()));
}

bool tls_session::established() const noexcept { return SSL_is_init_finished(as_ssl(ssl_)) == 1; }

error_code tls_session::pump(std::vector<std::uint8_t>& out) {
    SSL* ssl = as_ssl(ssl_);
    if (!established()) {
        const int r = SSL_do_handshake(ssl);
        if (r != 1) {
            const int e = SSL_get_error(ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return {};
            }
            const long verify = SSL_get_verify_result(ssl);
            failure_ = verify != X509_V_OK
                           ? fmt::format("client certificate refused: {}", X509_verify_cert_error_string(verify))
                           : openssl_reason();
            ERR_clear_error();
            return tls_failure();
        }
    }
    std::uint8_t buf[16384];
    for (;;) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
            out.insert(out.end(), buf, buf + n);
            continue;
        }
        const int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            return {};
        }
        ERR_clear_error();
        return e == SSL_ERROR_ZERO_RETURN ? error_code{boost::asio::error::eof} : tls_failure();
    }
}

error_code tls_session::write(std::span<const std::uint8_t> plain) {
    std::size_t off = 0;
    while (off < plain.size()) {
        const int n = SSL_write(as_ssl(ssl_), plain.data() + off, static_cast<int>(plain.size() - off));
        if (n <= 0) {
            ERR_clear_error();
            return tls_failure();
        }
        off += static_cast<std::size_t>(n);
    }
    return {};
}

void tls_session::take_output(std::vector<std::uint8_t>& out) {
    BIO* w = as_bio(wbio_);
    const auto pending = static_cast<std::size_t>(BIO_ctrl_pending(w));
    if (pending == 0) {
        return;
    }
    const std::size_t old = out.size();
    out.resize(old + pending);
    const int n = BIO_read(w, out.data() + old, static_cast<int>(pending));
    out.resize(old + static_cast<std::size_t>(std::max(n, 0)));
}

void tls_session::shutdown() {
    if (established()) {
        SSL_shutdown(as_ssl(ssl_));
    }
}

std::string tls_session::recheck_peer(const tls_context& ctx) const {
    SSL* ssl = as_ssl(ssl_);
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr) {
        return {};
    }
    X509_STORE_CTX* check = X509_STORE_CTX_new();
    if (check == nullptr) {
        return "out of memory";
    }
    // The same store (CA bundle, CRL and its flags) and purpose as the handshake uses.
    X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ctx.native()));
    std::string why;
    if (X509_STORE_CTX_init(check, store, cert, SSL_get_peer_cert_chain(ssl)) != 1) {
        why = openssl_reason();
    } else {
        X509_STORE_CTX_set_purpose(check, X509_PURPOSE_SSL_CLIENT);
        if (X509_verify_cert(check) != 1) {
            why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(check));
        }
    }
    X509_STORE_CTX_free(check);
    ERR_clear_error();
    return why;
}

std::optional<std::string> tls_session::peer_identity() const {
    X509* cert = SSL_get0_peer_certificate(as_ssl(ssl_));
    if (cert == nullptr || SSL_get_verify_result(as_ssl(ssl_)) != X509_V_OK) {
        return std::nullopt;
    }
    const std::string& field = settings().identity;
    if (field == "cn") {
        char cn[256];
        const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        if (n <= 0) {
            return std::nullopt;
        }
        return std::string(cn, static_cast<std::size_t>(n));
    }
    const int type = field == "san-dns" ? GEN_DNS : field == "san-email" ? GEN_EMAIL : GEN_URI;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    std::optional<std::string> found;
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && !found; ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
        if (g->type == type) {
            const ASN1_IA5STRING* v = g->d.ia5;  // dNSName, rfc822Name and URI are all IA5String
            found = std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                                static_cast<std::size_t>(ASN1_STRING_length(v)));
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

}  // namespace vigil::net
