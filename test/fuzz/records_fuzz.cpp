// libFuzzer target: the store's record decoders on arbitrary bytes (what a damaged disk could
// hold), the JSON payload embedding of the HTTP API, and the history API's parameters (query
// strings, times, cursors). A bad record must decode to "rejected", never crash; a record that
// decodes must re-encode to the same bytes (in the format written now); so must a cursor. Every
// JSON text built from the bytes (an embedded payload, the devices listing, an escaped string)
// must parse.
#include <vigil/archive/archive.hpp>
#include <vigil/http/devices.hpp>
#include <vigil/http/json.hpp>
#include <vigil/http/query.hpp>
#include <vigil/store/records.hpp>

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

/// Aborts unless `text` is one complete JSON value.
void must_parse(const std::string& text) {
    static simdjson::dom::parser parser;
    if (parser.parse(text).error() != simdjson::SUCCESS) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view v{reinterpret_cast<const char*>(data), size};
    if (const auto m = vigil::store::decode_message(v)) {
        if (vigil::store::encode_message(*m) != v) {
            std::abort();
        }
        // Its payload is padded, so the JSON check may read past it; the output must parse.
        std::string out;
        vigil::http::append_payload(out, *m);
        must_parse(out);
        must_parse(vigil::http::devices_json(std::vector<vigil::message_ref>{m}));
    }
    if (const auto r = vigil::store::decode_queue_record(v)) {
        if (vigil::store::encode_queue_record(*r) != v) {
            std::abort();
        }
    }
    if (const auto s = vigil::store::decode_session_record(v)) {
        // Format 1 records (no owner) are read, never written: they re-encode as format 2.
        if (s->owner && vigil::store::encode_session_record(*s) != v) {
            std::abort();
        }
    }
    if (const auto k = vigil::store::split_client_key(v)) {
        (void)vigil::store::decode_u64(k->rest);
        (void)vigil::store::decode_u16(k->rest);
    }
    std::string s;
    vigil::http::append_json_string(s, v);
    must_parse(s);
    std::string error;
    if (const auto params = vigil::http::query_params(v, error)) {
        for (const auto& [key, value] : *params) {
            (void)vigil::http::parse_time(value);
        }
    }
    (void)vigil::http::parse_time(v);
    if (const auto c = vigil::archive::decode_cursor(v)) {
        if (vigil::archive::encode_cursor(*c) != v) {
            std::abort();
        }
    }
    return 0;
}
