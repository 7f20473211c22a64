#include "common/kube/json_patch.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/encoding/json_string.h"

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

void AppendJsonString(std::string& out, std::string_view value) {
  // Most strings need no escaping; the others are left to nlohmann, so that escapes and UTF-8
  // errors come out as dump() makes them.
  const char* end = value.data() + value.size();
  if (encoding::FindJsonStringSpecial(value.data(), end) != end) {
    out += nlohmann::json(std::string(value)).dump();
    return;
  }
  out += '"';
  out += value;
  out += '"';
}

JsonPatch& JsonPatch::Add(std::string_view path, std::string_view value) {
  return Append("add", path, value);
}

JsonPatch& JsonPatch::Replace(std::string_view path, std::string_view value) {
  return Append("replace", path, value);
}

JsonPatch& JsonPatch::Remove(std::string_view path) {
  return Append("remove", path, std::nullopt);
}

JsonPatch& JsonPatch::Test(std::string_view path, std::string_view value) {
  return Append("test", path, value);
}

std::string JsonPatch::Release() {
  size_ = 0;
  return std::exchange(text_, "[]");
}

JsonPatch& JsonPatch::Append(std::string_view op, std::string_view path,
                             std::optional<std::string_view> value) {
  // Members in the sorted order dump() writes them: op, path, value.
  text_.pop_back();
  if (size_++ > 0)
    text_ += ',';
  text_ += R"({"op":")";
  text_ += op;
  text_ += R"(","path":)";
  AppendJsonString(text_, path);
  if (value) {
    text_ += R"(,"value":)";
    text_ += *value;
  }
  text_ += "}]";
  return *this;
}

}  // namespace seedhop::kube
