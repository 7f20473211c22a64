// Tolerant accessors for Kubernetes objects held as JSON: a missing field or a field of the
// wrong type reads as absent instead of throwing, because objects come from a live API server.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace seedhop::auditor {

// Returns the value at `path` (object keys), or nullptr when any step is missing or not an object.
const nlohmann::json* Find(const nlohmann::json& object,
                           std::initializer_list<std::string_view> path);

// Returns the string at `path`, or "" when it is missing or not a string.
std::string StringAt(const nlohmann::json& object, std::initializer_list<std::string_view> path);

// Returns metadata.name.
inline std::string NameOf(const nlohmann::json& object) {
  return StringAt(object, {"metadata", "name"});
}

}  // namespace seedhop::auditor
