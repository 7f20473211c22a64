// Parsing JSON into a DOM that holds only chosen members. The whole text is validated as
// nlohmann::json::parse validates it (same grammar, UTF-8 and surrogate checks, numbers beyond
// double's range refused; only a trailing NUL byte is treated differently), but subtrees nobody
// reads are scanned without being built: for an AdmissionReview that is almost all of it
// (docs/webhook.md, "Performance"). Scalars a decoder only reads can be captured as text instead
// of built, which costs no allocation at all.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace seedhop::webhook {

// Which parts of a JSON value to build. `whole`: the value as it is. Otherwise, when the value
// is an object, only the members named in `members` are built, each by its own filter, and the
// rest are skipped; a value that is not an object is built whole, so that type checks on the
// result see what was sent.
// A member with `capture` >= 0 is not built: its text is recorded in captures[capture] (see
// ParsePrunedJson), and when it is an object its `members` say what inside it to capture.
struct JsonFilter {
  std::string_view name;  // the member this filter applies to; unused at the root
  bool whole = false;
  std::span<const JsonFilter> members;
  int capture = -1;
};

enum class JsonPruneError {
  kNone,
  kSyntax,            // not JSON (nlohmann::json::parse would throw parse_error)
  kTooDeep,           // objects and arrays nest deeper than the limit
  kNumberOutOfRange,  // a number beyond double's range (nlohmann throws out_of_range)
};

struct PrunedJson {
  nlohmann::json value;  // discarded unless error == kNone
  JsonPruneError error = JsonPruneError::kNone;
  size_t error_offset = 0;  // where the error was found, in bytes from the start of the text
};

// Parses `text` into the parts of it that `filter` selects. Objects and arrays may nest at most
// `max_depth` levels (and at most 1024 within a value nobody selected, whatever `max_depth` says).
// Duplicate member names: the last one wins, as in nlohmann::json::parse. Like
// nlohmann::json::parse, a leading UTF-8 byte order mark is skipped; unlike it, a NUL byte after
// the value is an error, not the end of the text. Captured members are recorded in `captures` as
// views into `text` of their whole value: as in the member's last occurrence, "" when it is absent
// there (or its parent is not an object). `captures` must be longer than every capture index in
// `filter`; it is meaningful only when error == kNone.
PrunedJson ParsePrunedJson(std::string_view text, const JsonFilter& filter, size_t max_depth,
                           std::span<std::string_view> captures = {});

// True when a captured member was absent or null.
inline bool CapturedNothing(std::string_view capture) {
  return capture.empty() || capture == "null";
}

// True when a captured value is an object (the first byte of a value tells its type).
inline bool CapturedObject(std::string_view capture) {
  return capture.starts_with('{');
}

// The string a captured value holds, escapes decoded as nlohmann decodes them; nullopt when the
// value is not a string. Requires a capture of a value ParsePrunedJson accepted.
std::optional<std::string> CapturedString(std::string_view capture);

}  // namespace seedhop::webhook
