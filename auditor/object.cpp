#include "auditor/object.h"

namespace seedhop::auditor {

const nlohmann::json* Find(const nlohmann::json& object,
                           std::initializer_list<std::string_view> path) {
  const nlohmann::json* at = &object;
  for (std::string_view key : path) {
    if (!at->is_object()) {
      return nullptr;
    }
    auto it = at->find(key);
    if (it == at->end()) {
      return nullptr;
    }
    at = &*it;
  }
  return at;
}

std::string StringAt(const nlohmann::json& object, std::initializer_list<std::string_view> path) {
  const nlohmann::json* value = Find(object, path);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

}  // namespace seedhop::auditor
