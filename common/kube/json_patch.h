// Writes RFC 6902 JSON Patch documents as text, with RFC 6901 pointer escaping. The bytes are the
// ones nlohmann::json::dump writes for the same operations, so a patch reads the same in a test,
// a log or a diff whichever way it was built. Applying patches is nlohmann::json::patch()'s job.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace seedhop::kube {

// Escapes one reference token: "~" becomes "~0" and "/" becomes "~1" (RFC 6901 section 3).
std::string EscapePointerToken(std::string_view token);

// Joins `tokens` into a JSON pointer, escaping each: {"metadata","labels","a/b"} ->
// "/metadata/labels/a~1b". An empty list is the whole document ("").
std::string JsonPointer(std::initializer_list<std::string_view> tokens);

// Appends `value` to `out` as a JSON string, exactly as nlohmann::json::dump writes it (and, like
// it, throws nlohmann::json::type_error on invalid UTF-8).
void AppendJsonString(std::string& out, std::string_view value);

// An ordered list of patch operations, written as text while it is built: the webhook answers
// every admission request with one, and building json values only to dump them cost more than
// its decision (docs/webhook.md, "Performance"). Paths are JSON pointers (see JsonPointer);
// values are JSON text, as dump() writes it (AppendJsonString for strings).
class JsonPatch {
 public:
  JsonPatch& Add(std::string_view path, std::string_view value);
  JsonPatch& Replace(std::string_view path, std::string_view value);
  JsonPatch& Remove(std::string_view path);
  JsonPatch& Test(std::string_view path, std::string_view value);

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // The JSON array of the operations in the order they were added; "[]" when there are none.
  const std::string& text() const { return text_; }
  // Moves the text out, leaving this patch empty.
  std::string Release();

 private:
  JsonPatch& Append(std::string_view op, std::string_view path,
                    std::optional<std::string_view> value);

  std::string text_ = "[]";
  size_t size_ = 0;
};

}  // namespace seedhop::kube
