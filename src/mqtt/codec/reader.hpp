#pragma once
// Bounds-checked big-endian reader over one packet's variable header and payload.

#include <vigil/core/topic.hpp>
#include <vigil/mqtt/codec/errc.hpp>

#include <cstdint>
#include <span>
#include <string_view>

namespace vigil::mqtt::detail {

class reader {
public:
    explicit reader(std::span<const std::uint8_t> body) noexcept : body_(body) {}

    [[nodiscard]] std::size_t remaining() const noexcept { return body_.size() - pos_; }
    [[nodiscard]] bool failed() const noexcept { return static_cast<bool>(ec_); }
    [[nodiscard]] error_code error() const noexcept { return ec_; }

    void fail(errc e) noexcept {
        if (!ec_) {
            ec_ = make_error_code(e);
        }
    }

    std::uint8_t u8() noexcept {
        if (remaining() < 1) {
            fail(errc::malformed_packet);
            return 0;
        }
        return body_[pos_++];
    }

    std::uint16_t u16() noexcept {
        if (remaining() < 2) {
            fail(errc::malformed_packet);
            return 0;
        }
        const auto v = static_cast<std::uint16_t>((body_[pos_] << 8) | body_[pos_ + 1]);
        pos_ += 2;
        return v;
    }

    std::span<const std::uint8_t> binary() noexcept {
        const std::uint16_t n = u16();
        if (failed() || remaining() < n) {
            fail(errc::malformed_packet);
            return {};
        }
        auto s = body_.subspan(pos_, n);
        pos_ += n;
        return s;
    }

    /// A UTF-8 encoded string [MQTT-1.5.3].
    std::string_view utf8() noexcept {
        const auto b = binary();
        const std::string_view s{reinterpret_cast<const char*>(b.data()), b.size()};
        if (!failed() && !topic::valid_utf8(s)) {
            fail(errc::invalid_utf8);
        }
        return s;
    }

    /// A UTF-8 string without control characters (a topic, filter, client id or username).
    std::string_view text() noexcept {
        const std::string_view s = utf8();
        if (!failed() && topic::has_control_character(s)) {
            fail(errc::control_character);
        }
        return s;
    }

    std::span<const std::uint8_t> rest() noexcept {
        auto s = body_.subspan(pos_);
        pos_ = body_.size();
        return s;
    }

private:
    std::span<const std::uint8_t> body_;
    std::size_t pos_ = 0;
    error_code ec_;
};

}  // namespace vigil::mqtt::detail
