#pragma once
// The archive's on-disk layout, without RocksDB: partition names, keys and values.
//
// One column family per UTC day, named "dYYYYMMDD". In it, a record's key is its topic, a NUL
// (no topic contains one), the receive time and the origin sequence, both big-endian: a topic's
// records are contiguous and in time order, and a topic's range ends before any longer topic
// that starts with it ('\0' sorts before every topic character). The same message always gets
// the same key, so writing it twice keeps one record. The value: one flags byte (QoS in bits
// 0-1, retain in bit 2), the client id's length (two bytes, big-endian) and bytes, then the payload.
//
// Before every record (keys that start with NUL) is the day's topic catalogue: a key NUL + topic
// for every topic the day holds, written in the same batch as the topic's first record, so a
// filter with wildcards finds its topics without seeking through the records. The key NUL alone
// marks a partition whose catalogue is complete (every partition created since it exists).

#include <vigil/archive/archive.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::archive::layout {

constexpr std::int64_t day_ms = 86'400'000;

/// Days since 1970-01-01 (UTC) of a time in ms (floor, also before 1970).
[[nodiscard]] std::int64_t day_of(std::int64_t time_ms) noexcept;
/// "dYYYYMMDD" of a day number.
[[nodiscard]] std::string partition_name(std::int64_t day);
/// The day number of a partition name; nullopt if it is not one.
[[nodiscard]] std::optional<std::int64_t> partition_day(std::string_view name);

[[nodiscard]] std::string key(std::string_view topic, std::int64_t time_ms, std::uint64_t seq);
/// The first key of `topic` at or after `time_ms` (in any partition).
[[nodiscard]] std::string key_at(std::string_view topic, std::int64_t time_ms);

struct parsed_key {
    std::string_view topic;
    std::int64_t time_ms = 0;
    std::uint64_t seq = 0;
};
[[nodiscard]] std::optional<parsed_key> parse_key(std::string_view k);

/// The catalogue's key of `topic` (also where the topics starting with `topic` begin), and the
/// marker of a partition with a complete catalogue.
[[nodiscard]] std::string catalogue_key(std::string_view topic);
inline constexpr std::string_view catalogue_marker{"\0", 1};
/// The topic of a catalogue key; nullopt if `k` is not one.
[[nodiscard]] std::optional<std::string_view> catalogue_topic(std::string_view k);

[[nodiscard]] std::string value(const message& m, std::string_view client_id);
/// Fills everything of `r` but the key's parts; false on a damaged value.
[[nodiscard]] bool parse_value(std::string_view v, record& r);

}  // namespace vigil::archive::layout
