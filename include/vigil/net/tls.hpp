#pragma once
/// TLS for listeners: a server context built from the configuration, and a sans-I/O TLS
/// session (OpenSSL over memory BIOs) that the connection feeds with ciphertext and drains.
///
/// Design note. asio::ssl::stream binds the TLS state to one socket and so to one shard.
/// Vigil moves a connection's socket to its client id's home shard after the CONNECT; a
/// session over memory BIOs is plain memory, so it moves with the descriptor and the
/// connection keeps one writer and gather writes of ciphertext.

#include <vigil/config/settings.hpp>
#include <vigil/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vigil::net {

/// The `tls.*` keys of a listener.
using tls_settings = config::tls_listener_settings;

/// An immutable server context. Thread safety: safe (shared by every shard; a reload
/// builds a new one).
class tls_context {
public:
    /// Errors: throws std::runtime_error naming the file and OpenSSL's reason.
    [[nodiscard]] static std::shared_ptr<const tls_context> make(const tls_settings& s);
    ~tls_context();
    tls_context(const tls_context&) = delete;
    tls_context& operator=(const tls_context&) = delete;

    [[nodiscard]] const tls_settings& settings() const noexcept { return settings_; }
    [[nodiscard]] void* native() const noexcept { return ctx_; }  ///< SSL_CTX*

private:
    tls_context() = default;
    void* ctx_ = nullptr;
    tls_settings settings_;
};

/// One connection's TLS state, server side. Thread safety: distinct objects safe, shared
/// objects unsafe; may move between threads between calls.
class tls_session {
public:
    explicit tls_session(std::shared_ptr<const tls_context> ctx);
    ~tls_session();
    tls_session(const tls_session&) = delete;
    tls_session& operator=(const tls_session&) = delete;

    /// Ciphertext from the network.
    void feed(std::span<const std::uint8_t> cipher);
    /// Advances the handshake and decrypts: appends plaintext to `out`.
    /// Errors: a failed handshake or a fatal alert (the connection must close).
    [[nodiscard]] error_code pump(std::vector<std::uint8_t>& out);
    [[nodiscard]] bool established() const noexcept;
    /// Encrypts plaintext; the ciphertext waits in output().
    [[nodiscard]] error_code write(std::span<const std::uint8_t> plain);
    /// Moves the pending ciphertext (handshake, records, alerts) to the end of `out`.
    void take_output(std::vector<std::uint8_t>& out);
    /// Queues a close_notify alert.
    void shutdown();
    [[nodiscard]] const tls_settings& settings() const noexcept { return ctx_->settings(); }
    /// The verified client certificate's identity as `settings().identity` selects (its CN,
    /// or its first DNS, email or URI subject alternative name), if any.
    [[nodiscard]] std::optional<std::string> peer_identity() const;
    /// Why the handshake failed (the client certificate's verification error, such as
    /// "certificate revoked" or "certificate has expired", or OpenSSL's reason).
    [[nodiscard]] const std::string& failure_reason() const noexcept { return failure_; }
    /// Verifies the client certificate this session was established with again, against
    /// `ctx` (a reloaded CA bundle and CRL), as the handshake did. Returns why it fails now,
    /// or "" when it passes or the client presented no certificate.
    [[nodiscard]] std::string recheck_peer(const tls_context& ctx) const;

private:
    std::shared_ptr<const tls_context> ctx_;
    void* ssl_ = nullptr;  // SSL*
    void* rbio_ = nullptr;
    void* wbio_ = nullptr;
    std::string failure_;
};

}  // namespace vigil::net
