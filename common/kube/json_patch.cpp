#include "common/kube/json_patch.h"

namespace seedhop::kube {

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string JsonPointer(std::initializer_list<std::string_view> tokens) {
  std::string pointer;
  for (std::string_view token : tokens) {
    pointer.push_back('/');
    pointer += EscapePointerToken(token);
  }
  return pointer;
}

JsonPatch& JsonPatch::Add(std::string path, nlohmann::json value) {
  operations_.push_back({{"op", "add"}, {"path", std::move(path)}, {"value", std::move(value)}});
  return *this;
}

JsonPatch& JsonPatch::Replace(std::string path, nlohmann::json value) {
  operations_.push_back(
      {{"op", "replace"}, {"path", std::move(path)}, {"value", std::move(value)}});
  return *this;
}

JsonPatch& JsonPatch::Remove(std::string path) {
  operations_.push_back({{"op", "remove"}, {"path", std::move(path)}});
  return *this;
}

JsonPatch& JsonPatch::Test(std::string path, nlohmann::json value) {
  operations_.push_back({{"op", "test"}, {"path", std::move(path)}, {"value", std::move(value)}});
  return *this;
}

}  // namespace seedhop::kube
