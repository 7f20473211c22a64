// Builds RFC 6902 JSON Patch documents with RFC 6901 pointer escaping. Applying patches is
// nlohmann::json::patch()'s job; this only writes them.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace seedhop::kube {

// Escapes one reference token: "~" becomes "~0" and "/" becomes "~1" (RFC 6901 section 3).
std::string EscapePointerToken(std::string_view token);

// Joins `tokens` into a JSON pointer, escaping each: {"metadata","labels","a/b"} ->
// "/metadata/labels/a~1b". An empty list is the whole document ("").
std::string JsonPointer(std::initializer_list<std::string_view> tokens);

// An ordered list of patch operations. Paths are JSON pointers (see JsonPointer).
class JsonPatch {
 public:
  JsonPatch& Add(std::string path, nlohmann::json value);
  JsonPatch& Replace(std::string path, nlohmann::json value);
  JsonPatch& Remove(std::string path);
  JsonPatch& Test(std::string path, nlohmann::json value);

  bool empty() const { return operations_.empty(); }
  size_t size() const { return operations_.size(); }
  // The patch document: a JSON array of operation objects, in the order they were added.
  const nlohmann::json& ToJson() const { return operations_; }
  // Moves the patch document out, leaving this patch empty: for callers done with the patch,
  // which then need not copy every operation's value.
  nlohmann::json Release() { return std::exchange(operations_, nlohmann::json::array()); }

 private:
  nlohmann::json operations_ = nlohmann::json::array();
};

}  // namespace seedhop::kube
