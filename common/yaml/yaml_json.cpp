#include "common/yaml/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include "common/io/file.h"
#include "re2/re2.h"

namespace seedhop::yaml {

namespace {

nlohmann::json PlainScalar(const std::string& text) {
  // YAML 1.2 core schema (yaml.org/spec/1.2.2, section 10.3.2).
  static const re2::RE2 kNull("null|Null|NULL|~|");
  static const re2::RE2 kTrue("true|True|TRUE");
  static const re2::RE2 kFalse("false|False|FALSE");
  static const re2::RE2 kInteger("[-+]?[0-9]+");
  static const re2::RE2 kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (re2::RE2::FullMatch(text, kNull))
    return nullptr;
  if (re2::RE2::FullMatch(text, kTrue))
    return true;
  if (re2::RE2::FullMatch(text, kFalse))
    return false;
  try {
    if (re2::RE2::FullMatch(text, kInteger))
      return std::stoll(text);
    if (re2::RE2::FullMatch(text, kFloat))
      return std::stod(text);
  } catch (const std::out_of_range&) {
    return text;
  }
  return text;
}

}  // namespace

nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node)
        out[item.first.as<std::string>()] = ToJson(item.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node)
        out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!" and plain ones "?".
      return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : PlainScalar(node.Scalar());
    default:
      return nullptr;
  }
}

Result<std::vector<nlohmann::json>> ParseDocuments(const std::string& text,
                                                   const std::string& origin) {
  std::vector<nlohmann::json> documents;
  try {
    for (const auto& node : YAML::LoadAll(text)) {
      if (!node.IsNull() && node.IsDefined())
        documents.push_back(ToJson(node));
    }
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalid,
                 origin + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return documents;
}

Result<std::vector<nlohmann::json>> ReadDocuments(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok())
    return text.error();
  return ParseDocuments(*text, path);
}

}  // namespace seedhop::yaml
