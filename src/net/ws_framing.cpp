#include <vigil/net/ws_framing.hpp>

#include <algorithm>
#include <utility>

namespace vigil::net {
namespace {
constexpr std::uint8_t op_continuation = 0x0;
constexpr std::uint8_t op_text = 0x1;
constexpr std::uint8_t op_binary = 0x2;
constexpr std::uint8_t op_close = 0x8;
constexpr std::uint8_t op_ping = 0x9;
constexpr std::uint8_t op_pong = 0xA;
constexpr std::size_t max_control_payload = 125;

/// Bytes of a client frame's header once its first two bytes are known.
std::size_t header_size(std::uint8_t second) {
    const std::uint8_t len = second & 0x7F;
    return 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + 4;  // clients always mask
}
}  // namespace

ws_framing::status ws_framing::fail(std::uint16_t code, std::string why) {
    done_ = true;
    failure_ = std::move(why);
    close(code);
    return status::failed;
}

std::size_t ws_framing::parse_header(std::span<const std::uint8_t> in) {
    // Collects the header in hdr_ (it may arrive a byte at a time); returns bytes consumed.
    std::size_t used = 0;
    const std::size_t want_first = 2;
    while (hdr_have_ < want_first && used < in.size()) {
        hdr_[hdr_have_++] = in[used++];
    }
    if (hdr_have_ < want_first) {
        return used;
    }
    const std::size_t want = (hdr_[1] & 0x80) != 0 ? header_size(hdr_[1]) : 2;
    while (hdr_have_ < want && used < in.size()) {
        hdr_[hdr_have_++] = in[used++];
    }
    return used;
}

ws_framing::status ws_framing::feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out) {
    if (done_) {
        return close_sent_ && failure_.empty() ? status::closed : status::failed;
    }
    std::size_t at = 0;
    while (at < in.size()) {
        if (!in_payload_) {
            at += parse_header(in.subspan(at));
            if (hdr_have_ < 2) {
                break;
            }
            if ((hdr_[1] & 0x80) == 0) {
                return fail(protocol_error, "an unmasked frame from the client");
            }
            if (hdr_have_ < header_size(hdr_[1])) {
                break;
            }
            if ((hdr_[0] & 0x70) != 0) {
                return fail(protocol_error, "reserved bits set (no extension was negotiated)");
            }
            fin_ = (hdr_[0] & 0x80) != 0;
            opcode_ = hdr_[0] & 0x0F;
            std::size_t pos = 2;
            std::uint64_t len = hdr_[1] & 0x7F;
            if (len == 126) {
                len = (std::uint64_t{hdr_[2]} << 8) | hdr_[3];
                pos = 4;
            } else if (len == 127) {
                len = 0;
                for (std::size_t i = 2; i < 10; ++i) {
                    len = (len << 8) | hdr_[i];
                }
                if ((len >> 63) != 0) {
                    return fail(protocol_error, "a frame length with the most significant bit set");
                }
                pos = 10;
            }
            std::copy_n(hdr_.begin() + static_cast<std::ptrdiff_t>(pos), 4, mask_.begin());
            hdr_have_ = 0;
            mask_at_ = 0;
            remaining_ = len;
            switch (opcode_) {
                case op_text:
                    return fail(unsupported_data, "a text frame (MQTT over WebSocket uses binary frames)");
                case op_binary:
                    if (in_message_) {
                        return fail(protocol_error, "a new message inside a fragmented one");
                    }
                    in_message_ = !fin_;
                    break;
                case op_continuation:
                    if (!in_message_) {
                        return fail(protocol_error, "a continuation frame outside a fragmented message");
                    }
                    in_message_ = !fin_;
                    break;
                case op_close:
                case op_ping:
                case op_pong:
                    if (!fin_ || len > max_control_payload) {
                        return fail(protocol_error, "a fragmented or oversized control frame");
                    }
                    control_.clear();
                    break;
                default:
                    return fail(protocol_error, "an unknown opcode");
            }
            in_payload_ = true;
        }
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - at));
        const bool data = opcode_ == op_binary || opcode_ == op_continuation;
        auto& dst = data ? out : control_;
        const std::size_t base = dst.size();
        dst.resize(base + take);
        for (std::size_t i = 0; i < take; ++i) {
            dst[base + i] = in[at + i] ^ mask_[(mask_at_ + i) & 3];
        }
        mask_at_ += take;
        remaining_ -= take;
        at += take;
        if (remaining_ == 0) {
            in_payload_ = false;
            if (const status s = end_of_frame(); s != status::ok) {
                return s;
            }
        }
    }
    return status::ok;
}

ws_framing::status ws_framing::end_of_frame() {
    if (opcode_ == op_ping) {
        if (!close_sent_) {
            // At most one Pong waits: it answers the newest Ping (RFC 6455 5.5.3), so a client
            // that sends Pings without reading cannot make the server queue Pongs for it.
            output_.clear();  // before a Close is sent only Pongs are queued
            output_.push_back(0x80 | op_pong);
            output_.push_back(static_cast<std::uint8_t>(control_.size()));
            output_.insert(output_.end(), control_.begin(), control_.end());
        }
    } else if (opcode_ == op_close) {
        if (control_.size() == 1) {
            return fail(protocol_error, "a Close frame with a 1-byte payload");
        }
        const std::uint16_t code =
            control_.size() >= 2 ? static_cast<std::uint16_t>((control_[0] << 8) | control_[1]) : normal;
        const bool echoable =
            (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
        done_ = true;
        close(echoable ? code : normal);  // codes never sent on the wire (1005, 1006) are not echoed
        return status::closed;
    }
    return status::ok;
}

std::span<const std::uint8_t> ws_framing::header(std::size_t payload) noexcept {
    out_hdr_[0] = 0x80 | op_binary;
    if (payload < 126) {
        out_hdr_[1] = static_cast<std::uint8_t>(payload);
        return {out_hdr_.data(), 2};
    }
    if (payload <= 0xFFFF) {
        out_hdr_[1] = 126;
        out_hdr_[2] = static_cast<std::uint8_t>(payload >> 8);
        out_hdr_[3] = static_cast<std::uint8_t>(payload);
        return {out_hdr_.data(), 4};
    }
    out_hdr_[1] = 127;
    for (std::size_t i = 0; i < 8; ++i) {
        out_hdr_[2 + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(payload) >> (56 - 8 * i));
    }
    return {out_hdr_.data(), 10};
}

void ws_framing::close(std::uint16_t code) {
    if (close_sent_) {
        return;
    }
    close_sent_ = true;
    output_.push_back(0x80 | op_close);
    output_.push_back(2);
    output_.push_back(static_cast<std::uint8_t>(code >> 8));
    output_.push_back(static_cast<std::uint8_t>(code));
}

void ws_framing::take_output(std::vector<std::uint8_t>& out) {
    out.insert(out.end(), output_.begin(), output_.end());
    output_.clear();
}

}  // namespace vigil::net
