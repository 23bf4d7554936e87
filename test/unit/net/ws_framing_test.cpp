#include <vigil/net/ws_framing.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using vigil::net::ws_framing;
using bytes = std::vector<std::uint8_t>;

namespace {

/// A client frame: masked with `key`, length encoded in the shortest form.
bytes client_frame(std::uint8_t opcode, const bytes& payload, bool fin = true, std::uint32_t key = 0x37fa213d) {
    bytes f;
    f.push_back(static_cast<std::uint8_t>((fin ? 0x80 : 0) | opcode));
    const std::size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<std::uint8_t>(0x80 | n));
    } else if (n <= 0xFFFF) {
        f.push_back(0x80 | 126);
        f.push_back(static_cast<std::uint8_t>(n >> 8));
        f.push_back(static_cast<std::uint8_t>(n));
    } else {
        f.push_back(0x80 | 127);
        for (int s = 56; s >= 0; s -= 8) {
            f.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(n) >> s));
        }
    }
    const std::uint8_t k[4] = {static_cast<std::uint8_t>(key >> 24), static_cast<std::uint8_t>(key >> 16),
                               static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key)};
    f.insert(f.end(), k, k + 4);
    for (std::size_t i = 0; i < n; ++i) {
        f.push_back(payload[i] ^ k[i % 4]);
    }
    return f;
}

bytes pattern(std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<std::uint8_t>(i * 7 + 3);
    }
    return b;
}

}  // namespace

TEST_CASE("ws_framing: binary frames of every length form decode to their payload") {
    for (const std::size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u, 300000u}) {
        ws_framing ws;
        bytes out;
        const bytes p = pattern(n);
        REQUIRE(ws.feed(client_frame(2, p), out) == ws_framing::status::ok);
        CHECK(out == p);
    }
}

TEST_CASE("ws_framing: frames split at every byte and fragmented messages give the same stream") {
    const bytes p1 = pattern(200);
    const bytes p2 = pattern(5);
    bytes wire = client_frame(2, p1, false);
    const bytes cont = client_frame(0, p2, true, 0x01020304);
    wire.insert(wire.end(), cont.begin(), cont.end());
    const bytes ping = client_frame(9, {'h', 'i'});
    // A control frame may come between the frames of a fragmented message.
    const std::size_t first_end = client_frame(2, p1, false).size();
    wire.insert(wire.begin() + static_cast<std::ptrdiff_t>(first_end), ping.begin(), ping.end());

    bytes expected = p1;
    expected.insert(expected.end(), p2.begin(), p2.end());
    ws_framing ws;
    bytes out;
    for (const std::uint8_t b : wire) {
        REQUIRE(ws.feed({&b, 1}, out) == ws_framing::status::ok);
    }
    CHECK(out == expected);
    bytes ctrl;
    ws.take_output(ctrl);
    CHECK(ctrl == bytes{0x8A, 2, 'h', 'i'});  // the Pong echoes the Ping's payload, unmasked
}

TEST_CASE("ws_framing: a flood of Pings leaves one Pong waiting, for the newest") {
    ws_framing ws;
    bytes wire;
    for (int i = 0; i < 10000; ++i) {
        const bytes ping = client_frame(9, {static_cast<std::uint8_t>(i & 0xFF), static_cast<std::uint8_t>(i >> 8)});
        wire.insert(wire.end(), ping.begin(), ping.end());
    }
    bytes out;
    REQUIRE(ws.feed(wire, out) == ws_framing::status::ok);
    CHECK(out.empty());
    bytes ctrl;
    ws.take_output(ctrl);
    CHECK(ctrl == bytes{0x8A, 2, 9999 & 0xFF, 9999 >> 8});
    // A Close after a Pong not yet taken: both go out, in order.
    REQUIRE(ws.feed(client_frame(9, {'a'}), out) == ws_framing::status::ok);
    REQUIRE(ws.feed(client_frame(8, {0x03, 0xE8}), out) == ws_framing::status::closed);
    ctrl.clear();
    ws.take_output(ctrl);
    CHECK(ctrl == bytes{0x8A, 1, 'a', 0x88, 2, 0x03, 0xE8});
}

TEST_CASE("ws_framing: a Close is answered and ends decoding") {
    ws_framing ws;
    bytes out;
    REQUIRE(ws.feed(client_frame(8, {0x03, 0xE8, 'b', 'y', 'e'}), out) == ws_framing::status::closed);
    bytes ctrl;
    ws.take_output(ctrl);
    CHECK(ctrl == bytes{0x88, 2, 0x03, 0xE8});
    CHECK(ws.close_sent());
    ws.close(ws_framing::going_away);  // a second Close is never sent
    ctrl.clear();
    ws.take_output(ctrl);
    CHECK(ctrl.empty());
    CHECK(ws.feed(client_frame(2, {1}), out) == ws_framing::status::closed);
    CHECK(out.empty());
}

TEST_CASE("ws_framing: protocol violations fail with the right close code") {
    struct bad_case {
        const char* what;
        bytes wire;
        std::uint16_t code;
    };
    bytes unmasked{0x82, 1, 0x10};
    bytes rsv = client_frame(2, {1});
    rsv[0] |= 0x40;
    bytes huge{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    const std::vector<bad_case> cases{
        {"text frame", client_frame(1, {'x'}), ws_framing::unsupported_data},
        {"unmasked", unmasked, ws_framing::protocol_error},
        {"reserved bit", rsv, ws_framing::protocol_error},
        {"unknown opcode", client_frame(3, {}), ws_framing::protocol_error},
        {"stray continuation", client_frame(0, {1}), ws_framing::protocol_error},
        {"fragmented ping", client_frame(9, {1}, false), ws_framing::protocol_error},
        {"ping over 125 bytes", client_frame(9, pattern(126)), ws_framing::protocol_error},
        {"64-bit length with the top bit", huge, ws_framing::protocol_error},
        {"close with a 1-byte payload", client_frame(8, {3}), ws_framing::protocol_error},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        ws_framing ws;
        bytes out;
        CHECK(ws.feed(c.wire, out) == ws_framing::status::failed);
        CHECK_FALSE(ws.failure().empty());
        bytes ctrl;
        ws.take_output(ctrl);
        REQUIRE(ctrl.size() == 4);
        CHECK(ctrl[0] == 0x88);
        CHECK(((ctrl[2] << 8) | ctrl[3]) == c.code);
    }
    SECTION("a new binary message inside a fragmented one") {
        ws_framing ws;
        bytes out;
        bytes wire = client_frame(2, {1}, false);
        const bytes again = client_frame(2, {2});
        wire.insert(wire.end(), again.begin(), again.end());
        CHECK(ws.feed(wire, out) == ws_framing::status::failed);
    }
}

TEST_CASE("ws_framing: headers use the shortest length form") {
    ws_framing ws;
    const auto h0 = ws.header(5);
    CHECK(bytes(h0.begin(), h0.end()) == bytes{0x82, 5});
    const auto h1 = ws.header(126);
    CHECK(bytes(h1.begin(), h1.end()) == bytes{0x82, 126, 0, 126});
    const auto h2 = ws.header(70000);
    CHECK(bytes(h2.begin(), h2.end()) == bytes{0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70});
}
