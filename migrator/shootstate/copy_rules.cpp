#include "migrator/shootstate/copy_rules.h"

#include <re2/re2.h>

#include <cctype>

#include "common/yaml/yaml_json.h"

namespace seedhop::migrator::shootstate {
namespace {

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos)
    return "";
  size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

// Label keys and values: k8s.io/apimachinery/pkg/util/validation/validation.go
// (IsQualifiedName, IsValidLabelValue).
bool ValidKey(const std::string& key) {
  static const re2::RE2 kKey(
      R"(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?)"
      R"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)");
  return key.size() <= 316 && re2::RE2::FullMatch(key, kKey);
}

bool ValidValue(const std::string& value) {
  static const re2::RE2 kValue(R"(([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)");
  return value.size() <= 63 && re2::RE2::FullMatch(value, kValue);
}

Result<LabelRequirement> ParseRequirement(const std::string& raw) {
  std::string term = Trim(raw);
  LabelRequirement req;
  if (term.find('(') != std::string::npos || term.find(' ') != std::string::npos) {
    return Error(ErrorCode::kInvalid, "\"" + term + "\": set-based requirements are not supported");
  }
  if (size_t pos = term.find("!="); pos != std::string::npos) {
    req.op = LabelRequirement::Op::kNotEquals;
    req.key = term.substr(0, pos);
    req.value = term.substr(pos + 2);
  } else if (size_t eq = term.find('='); eq != std::string::npos) {
    req.op = LabelRequirement::Op::kEquals;
    req.key = term.substr(0, eq);
    size_t skip = term.compare(eq, 2, "==") == 0 ? 2 : 1;
    req.value = term.substr(eq + skip);
  } else if (!term.empty() && term[0] == '!') {
    req.op = LabelRequirement::Op::kNotExists;
    req.key = term.substr(1);
  } else {
    req.op = LabelRequirement::Op::kExists;
    req.key = term;
  }
  if (!ValidKey(req.key))
    return Error(ErrorCode::kInvalid, "\"" + term + "\": invalid label key");
  if (!ValidValue(req.value))
    return Error(ErrorCode::kInvalid, "\"" + term + "\": invalid label value");
  return req;
}

Result<std::string> StringField(const nlohmann::json& object, const std::string& key,
                                const std::string& path, bool required) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required)
      return Error(ErrorCode::kInvalid, path + "." + key + ": required");
    return std::string();
  }
  if (!it->is_string())
    return Error(ErrorCode::kInvalid, path + "." + key + ": must be a string");
  if (required && it->get<std::string>().empty())
    return Error(ErrorCode::kInvalid, path + "." + key + ": required");
  return it->get<std::string>();
}

Result<CopyRule> ParseRule(const nlohmann::json& item, const std::string& path) {
  if (!item.is_object())
    return Error(ErrorCode::kInvalid, path + ": must be a mapping");
  for (const auto& [key, value] : item.items()) {
    if (key != "name" && key != "apiVersion" && key != "kind" && key != "resource" &&
        key != "labelSelector" && key != "namePattern") {
      return Error(ErrorCode::kInvalid, path + "." + key + ": unknown field");
    }
  }
  CopyRule rule;
  auto name = StringField(item, "name", path, true);
  auto api_version = StringField(item, "apiVersion", path, true);
  auto kind = StringField(item, "kind", path, true);
  auto resource = StringField(item, "resource", path, false);
  auto selector = StringField(item, "labelSelector", path, false);
  auto pattern = StringField(item, "namePattern", path, false);
  for (const auto* field : {&name, &api_version, &kind, &resource, &selector, &pattern}) {
    if (!field->ok())
      return field->error();
  }
  rule.name = *name;
  rule.api_version = *api_version;
  rule.kind = *kind;
  rule.resource = resource->empty() ? PluralOf(rule.kind) : *resource;
  auto parsed = ParseLabelSelector(*selector);
  if (!parsed.ok())
    return parsed.error().Wrap(path + ".labelSelector");
  rule.selector = std::move(*parsed);
  rule.name_pattern = *pattern;
  if (!rule.name_pattern.empty()) {
    auto re = std::make_shared<re2::RE2>(rule.name_pattern, re2::RE2::Quiet);
    if (!re->ok())
      return Error(ErrorCode::kInvalid, path + ".namePattern: invalid RE2: " + re->error());
    rule.re = std::move(re);
  }
  return rule;
}

}  // namespace

bool LabelSelector::Matches(const nlohmann::json& labels) const {
  for (const auto& req : requirements) {
    const nlohmann::json* found = nullptr;
    if (labels.is_object()) {
      if (auto it = labels.find(req.key); it != labels.end() && it->is_string())
        found = &*it;
    }
    switch (req.op) {
      case LabelRequirement::Op::kEquals:
        if (!found || found->get<std::string>() != req.value)
          return false;
        break;
      case LabelRequirement::Op::kNotEquals:
        if (found && found->get<std::string>() == req.value)
          return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!found)
          return false;
        break;
      case LabelRequirement::Op::kNotExists:
        if (found)
          return false;
        break;
    }
  }
  return true;
}

Result<LabelSelector> ParseLabelSelector(const std::string& text) {
  LabelSelector selector;
  selector.text = Trim(text);
  if (selector.text.empty())
    return selector;
  size_t start = 0;
  while (start <= selector.text.size()) {
    size_t comma = selector.text.find(',', start);
    std::string term =
        selector.text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto req = ParseRequirement(term);
    if (!req.ok())
      return req.error();
    selector.requirements.push_back(std::move(*req));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return selector;
}

bool CopyRule::Matches(const nlohmann::json& object) const {
  if (object.value("apiVersion", "") != api_version || object.value("kind", "") != kind)
    return false;
  const nlohmann::json metadata = object.value("metadata", nlohmann::json::object());
  if (!selector.Matches(metadata.value("labels", nlohmann::json())))
    return false;
  return !re || re2::RE2::FullMatch(metadata.value("name", ""), *re);
}

std::string PluralOf(const std::string& kind) {
  std::string lower;
  for (char c : kind)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty())
    return lower;
  auto ends_with = [&](const std::string& suffix) {
    return lower.size() >= suffix.size() &&
           lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("y") && lower.size() > 1 &&
      std::string("aeiou").find(lower[lower.size() - 2]) == std::string::npos) {
    return lower.substr(0, lower.size() - 1) + "ies";
  }
  if (ends_with("s") || ends_with("x") || ends_with("ch") || ends_with("sh"))
    return lower + "es";
  return lower + "s";
}

CopyRules DefaultCopyRules() {
  CopyRules rules;
  // gardenlet persists every Secret labelled persist=true (secrets-manager's persistent secrets):
  // gardener/gardener:pkg/utils/gardener/shootstate/shootstate.go, computeSecretsToPersist.
  CopyRule secrets;
  secrets.name = "persisted-secrets";
  secrets.api_version = "v1";
  secrets.kind = "Secret";
  secrets.resource = "secrets";
  secrets.selector = *ParseLabelSelector("persist=true");
  rules.rules.push_back(std::move(secrets));
  // The kinds of computeExtensionsDataAndResources in the same file. BackupEntry is left out: the
  // extension BackupEntry is cluster-scoped, not in the shoot namespace, and gardenlet moves it
  // itself ("Migrating BackupEntry to new seed" in reconciler_migrate.go).
  rules.extension_kinds = {"ContainerRuntime",
                           "ControlPlane",
                           "DNSRecord",
                           "Extension",
                           "Infrastructure",
                           "Network",
                           "OperatingSystemConfig",
                           "SelfHostedShootExposure",
                           "Worker"};
  return rules;
}

Result<CopyRules> ParseCopyRules(const nlohmann::json& document) {
  if (!document.is_object())
    return Error(ErrorCode::kInvalid, "rules document: must be a mapping");
  for (const auto& [key, value] : document.items()) {
    if (key != "rules" && key != "extensionKinds")
      return Error(ErrorCode::kInvalid, key + ": unknown field");
  }
  CopyRules rules;
  rules.extension_kinds = DefaultCopyRules().extension_kinds;
  if (auto it = document.find("rules"); it != document.end() && !it->is_null()) {
    if (!it->is_array())
      return Error(ErrorCode::kInvalid, "rules: must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      auto rule = ParseRule((*it)[i], "rules[" + std::to_string(i) + "]");
      if (!rule.ok())
        return rule.error();
      for (const auto& existing : rules.rules) {
        if (existing.name == rule->name) {
          return Error(ErrorCode::kInvalid,
                       "rules[" + std::to_string(i) + "].name: duplicate \"" + rule->name + "\"");
        }
      }
      rules.rules.push_back(std::move(*rule));
    }
  }
  if (auto it = document.find("extensionKinds"); it != document.end() && !it->is_null()) {
    if (!it->is_array())
      return Error(ErrorCode::kInvalid, "extensionKinds: must be a list");
    rules.extension_kinds.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& kind = (*it)[i];
      if (!kind.is_string() || kind.get<std::string>().empty()) {
        return Error(ErrorCode::kInvalid,
                     "extensionKinds[" + std::to_string(i) + "]: must be a non-empty string");
      }
      rules.extension_kinds.push_back(kind.get<std::string>());
    }
  }
  return rules;
}

Result<CopyRules> ReadCopyRules(const std::string& path) {
  auto documents = yaml::ReadDocuments(path);
  if (!documents.ok())
    return documents.error();
  if (documents->size() != 1) {
    return Error(ErrorCode::kInvalid, "copy rules " + path +
                                          ": want exactly one YAML document, got " +
                                          std::to_string(documents->size()));
  }
  auto rules = ParseCopyRules(documents->front());
  if (!rules.ok())
    return rules.error().Wrap("copy rules " + path);
  return rules;
}

}  // namespace seedhop::migrator::shootstate
