// Parsing JSON into a DOM that holds only chosen members. The whole text is validated as
// nlohmann::json::parse validates it (same grammar, UTF-8 and surrogate checks, numbers beyond
// double's range refused; only a trailing NUL byte is treated differently), but subtrees nobody
// reads are scanned without being built: for an AdmissionReview that is almost all of it
// (docs/webhook.md, "Performance").
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

namespace seedhop::webhook {

// Which parts of a JSON value to build. `whole`: the value as it is. Otherwise, when the value
// is an object, only the members named in `members` are built, each by its own filter, and the
// rest are skipped; a value that is not an object is built whole, so that type checks on the
// result see what was sent.
struct JsonFilter {
  std::string_view name;  // the member this filter applies to; unused at the root
  bool whole = false;
  std::span<const JsonFilter> members;
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
// `max_depth` levels. Duplicate member names: the last one wins, as in nlohmann::json::parse.
// Like nlohmann::json::parse, a leading UTF-8 byte order mark is skipped; unlike it, a NUL byte
// after the value is an error, not the end of the text.
PrunedJson ParsePrunedJson(std::string_view text, const JsonFilter& filter, size_t max_depth);

}  // namespace seedhop::webhook
