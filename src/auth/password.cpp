#include <vigil/auth/password.hpp>

#include <vigil/config/settings.hpp>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

namespace vigil::auth {
namespace {

constexpr std::size_t salt_bytes = 12;  // as mosquitto_passwd
constexpr std::size_t hash_bytes = 64;  // SHA-512

std::string b64encode(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::optional<std::vector<unsigned char>> b64decode(std::string_view s) {
    if (s.empty() || s.size() % 4 != 0) {
        return std::nullopt;
    }
    std::vector<unsigned char> out(3 * s.size() / 4);
    const int len =
        EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
    if (len < 0) {
        return std::nullopt;
    }
    // EVP_DecodeBlock counts padding as data. Padding is at most two '=' that end the text; more,
    // or '=' inside it, is not base64 (and would make the count wrap).
    const std::size_t data_end = s.find_last_not_of('=') + 1;
    const std::size_t padding = s.size() - data_end;
    if (padding > 2 || s.substr(0, data_end).find('=') != std::string_view::npos ||
        static_cast<std::size_t>(len) < padding) {
        return std::nullopt;
    }
    out.resize(static_cast<std::size_t>(len) - padding);
    return out;
}

bool pbkdf2(std::string_view password, const std::vector<unsigned char>& salt, unsigned iterations, unsigned char* out,
            std::size_t out_len) {
    return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                             static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha512(),
                             static_cast<int>(out_len), out) == 1;
}

struct parsed_hash {
    unsigned iterations = 0;
    std::vector<unsigned char> salt;
    std::vector<unsigned char> hash;
};

std::optional<parsed_hash> parse_hash(std::string_view encoded) {
    // $7$<iterations>$<salt>$<hash>
    if (!encoded.starts_with("$7$")) {
        return std::nullopt;
    }
    encoded.remove_prefix(3);
    const auto d1 = encoded.find('$');
    if (d1 == std::string_view::npos) {
        return std::nullopt;
    }
    const auto d2 = encoded.find('$', d1 + 1);
    if (d2 == std::string_view::npos) {
        return std::nullopt;
    }
    parsed_hash p;
    const auto it = encoded.substr(0, d1);
    const auto [end, ec] = std::from_chars(it.data(), it.data() + it.size(), p.iterations);
    if (ec != std::errc{} || end != it.data() + it.size() || p.iterations == 0 || p.iterations > 100'000'000) {
        return std::nullopt;
    }
    auto salt = b64decode(encoded.substr(d1 + 1, d2 - d1 - 1));
    auto hash = b64decode(encoded.substr(d2 + 1));
    if (!salt || !hash || hash->size() != hash_bytes) {
        return std::nullopt;
    }
    p.salt = std::move(*salt);
    p.hash = std::move(*hash);
    return p;
}

}  // namespace

std::string hash_password(std::string_view password, unsigned iterations) {
    std::vector<unsigned char> salt(salt_bytes);
    if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
        throw std::runtime_error("no randomness available for a password salt");
    }
    unsigned char hash[hash_bytes];
    if (!pbkdf2(password, salt, iterations, hash, sizeof hash)) {
        throw std::runtime_error("PBKDF2 failed");
    }
    return fmt::format("$7${}${}${}", iterations, b64encode(salt.data(), salt.size()), b64encode(hash, sizeof hash));
}

bool verify_password(std::string_view encoded, std::string_view password) {
    const auto p = parse_hash(encoded);
    if (!p) {
        return false;
    }
    unsigned char hash[hash_bytes];
    if (!pbkdf2(password, p->salt, p->iterations, hash, sizeof hash)) {
        return false;
    }
    return CRYPTO_memcmp(hash, p->hash.data(), hash_bytes) == 0;
}

password_file password_file::parse(std::string_view text, std::string_view source) {
    password_file f;
    config::for_each_line(text, [&](std::string_view line, std::size_t line_no) {
        if (line.empty() || line.front() == '#') {
            return;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            throw config::config_error(fmt::format("{}:{}: expected 'user:hash'", source, line_no));
        }
        const std::string_view hash = line.substr(colon + 1);
        if (!parse_hash(hash)) {
            throw config::config_error(
                fmt::format("{}:{}: the hash of '{}' is not a $7$ PBKDF2-SHA512 hash (make it with 'vigil passwd')",
                            source, line_no, line.substr(0, colon)));
        }
        if (!f.users_.emplace(std::string{line.substr(0, colon)}, std::string{hash}).second) {
            throw config::config_error(
                fmt::format("{}:{}: user '{}' appears twice", source, line_no, line.substr(0, colon)));
        }
    });
    return f;
}

password_file password_file::load(const std::string& path) {
    return parse(config::read_text_file(path, "password file"), path);
}

const std::string* password_file::find(std::string_view user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : &it->second;
}

std::vector<std::string> password_file::revoked_since(const password_file& before) const {
    std::vector<std::string> out;
    for (const auto& [user, hash] : before.users_) {
        const std::string* now = find(user);
        if (now == nullptr || *now != hash) {
            out.push_back(user);
        }
    }
    return out;
}

void password_file::set(const std::string& user, std::string hash) {
    if (hash.empty()) {
        users_.erase(user);
    } else {
        users_[user] = std::move(hash);
    }
}

std::string password_file::text() const {
    std::string out;
    for (const auto& [u, h] : users_) {
        out += u;
        out += ':';
        out += h;
        out += '\n';
    }
    return out;
}

}  // namespace vigil::auth
