#pragma once
// What a production site asks of its clients, and what a report needs to be read later: the
// server's certificate checked against the site's CA, a client certificate per simulated
// client (made here, signed by the site's device CA), MQTT usernames and passwords, an API
// token for dashboards; the host that ran the generator and the server's settings.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vigil::bench {

struct site {
    std::string ca;             ///< verify the server's certificate against this bundle ("": not verified)
    std::string server_name;    ///< the name its certificate must carry ("": the --host)
    std::string client_ca;      ///< sign a client certificate per client (CN = client id) with
    std::string client_ca_key;  ///< this CA certificate and key
    std::string username;       ///< MQTT username of every client; "{id}" becomes the client id
    std::string password;       ///< MQTT password, the same way
    std::string token;          ///< API token for the dashboards' /ws
    std::string server_config;  ///< the server's configuration file (vigil), for the report
};

/// How one client logs in.
struct login {
    std::string username;  ///< "" : none
    std::string password;
    std::shared_ptr<X509> cert;  ///< null: no client certificate
    std::shared_ptr<EVP_PKEY> key;
};

/// Makes logins from a site's settings. Thread safety: make() from one thread at a time.
class login_maker {
public:
    /// Errors: throws std::runtime_error naming the file that cannot be read.
    explicit login_maker(const site& s);
    /// The login of client `id`: its username and password, and (with a client CA) a fresh
    /// P-256 key and a certificate with CN `id`, valid for a day.
    [[nodiscard]] login make(const std::string& id) const;

private:
    const site& site_;
    std::shared_ptr<X509> ca_;
    std::shared_ptr<EVP_PKEY> ca_key_;
};

/// The machine the generator runs on.
struct host_info {
    std::string hostname;
    std::string cpu;  ///< model name
    unsigned cores = 0;
    double memory_gib = 0;
    std::string kernel;
};
[[nodiscard]] host_info read_host();

/// What capacity depends on in a vigil configuration file, as (key, value) pairs.
/// Errors: throws std::runtime_error when the file does not load.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> server_settings(const std::string& path);

}  // namespace vigil::bench
