#include "test/monitoring/openapi_validator.h"

#include <re2/re2.h>

#include <algorithm>
#include <limits>

namespace seedhop::testing {
namespace {

using nlohmann::json;

constexpr char kRefPrefix[] = "#/components/schemas/";
constexpr char kObjectMeta[] = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

std::string KindKey(const std::string& api_version, const std::string& kind) {
  return api_version + "/" + kind;
}

std::string TypeName(const json& value) {
  if (value.is_number_integer())
    return "integer";
  if (value.is_number())
    return "number";
  return value.type_name();
}

bool HasType(const json& value, const std::string& type) {
  if (type == "object")
    return value.is_object();
  if (type == "array")
    return value.is_array();
  if (type == "string")
    return value.is_string();
  if (type == "integer")
    return value.is_number_integer();
  if (type == "number")
    return value.is_number();
  if (type == "boolean")
    return value.is_boolean();
  return false;
}

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

}  // namespace

Status OpenApiValidator::AddOpenApiDocument(const json& document, const std::string& origin) {
  const auto components = document.find("components");
  if (components == document.end() || !components->contains("schemas") ||
      !components->at("schemas").is_object() || components->at("schemas").empty())
    return Error(ErrorCode::kInvalid, origin + ": no components.schemas");
  for (const auto& [name, schema] : components->at("schemas").items()) {
    schemas_[name] = schema;
    for (const auto& gvk : schema.value("x-kubernetes-group-version-kind", json::array())) {
      const std::string group = gvk.value("group", "");
      const std::string version = gvk.value("version", "");
      const std::string api_version = group.empty() ? version : group + "/" + version;
      kinds_[KindKey(api_version, gvk.value("kind", ""))] = Kind{{{"$ref", kRefPrefix + name}}};
    }
  }
  return OkStatus();
}

Status OpenApiValidator::AddCrd(const json& crd) {
  const json& spec = crd.value("spec", json::object());
  const std::string group = spec.value("group", "");
  const std::string kind = spec.value("names", json::object()).value("kind", "");
  const std::string name = crd.value("metadata", json::object()).value("name", "");
  if (group.empty() || kind.empty())
    return Error(ErrorCode::kInvalid, "CRD " + name + ": no spec.group or spec.names.kind");
  for (const auto& version : spec.value("versions", json::array())) {
    const json schema = version.value("schema", json::object()).value("openAPIV3Schema", json());
    if (!schema.is_object()) {
      return Error(ErrorCode::kInvalid,
                   "CRD " + name + " version " + version.value("name", "") + ": no schema");
    }
    kinds_[KindKey(group + "/" + version.value("name", ""), kind)] = Kind{schema, true};
  }
  return OkStatus();
}

bool OpenApiValidator::Knows(const std::string& api_version, const std::string& kind) const {
  return kinds_.contains(KindKey(api_version, kind));
}

std::vector<std::string> OpenApiValidator::Validate(const json& object) const {
  std::vector<std::string> errors;
  const auto it = kinds_.find(KindKey(object.value("apiVersion", ""), object.value("kind", "")));
  if (it == kinds_.end()) {
    errors.push_back("no schema for " + object.value("apiVersion", "") + " " +
                     object.value("kind", ""));
    return errors;
  }
  Check(it->second.schema, object, "", &errors);
  if (it->second.custom && object.contains("metadata")) {
    if (const json* meta = Resolve(std::string(kRefPrefix) + kObjectMeta); meta != nullptr)
      Check(*meta, object["metadata"], "metadata", &errors);
    else
      errors.push_back("metadata: ObjectMeta unknown (add the core/v1 document)");
  }
  return errors;
}

const json* OpenApiValidator::Resolve(const std::string& ref) const {
  if (!ref.starts_with(kRefPrefix))
    return nullptr;
  const auto it = schemas_.find(ref.substr(sizeof(kRefPrefix) - 1));
  return it == schemas_.end() ? nullptr : &it->second;
}

void OpenApiValidator::Check(const json& schema, const json& value, const std::string& path,
                             std::vector<std::string>* errors) const {
  // An explicit null is how YAML writes "absent" (`resources: {}` vs `resources:`); the API
  // server drops such fields, so they are never wrong.
  if (value.is_null())
    return;
  if (schema.contains("$ref")) {
    const json* target = Resolve(schema["$ref"].get<std::string>());
    if (target == nullptr) {
      errors->push_back(path + ": unresolved " + schema["$ref"].get<std::string>());
      return;
    }
    Check(*target, value, path, errors);
  }
  for (const auto& part : schema.value("allOf", json::array()))
    Check(part, value, path, errors);
  if (schema.value("x-kubernetes-int-or-string", false) ||
      schema.value("format", "") == "int-or-string") {
    if (!value.is_number_integer() && !value.is_string())
      errors->push_back(path + ": want integer or string, got " + TypeName(value));
    return;
  }
  for (const char* alternatives : {"anyOf", "oneOf"}) {
    if (!schema.contains(alternatives))
      continue;
    const json& options = schema[alternatives];
    const bool matched = std::any_of(options.begin(), options.end(), [&](const json& option) {
      std::vector<std::string> scratch;
      Check(option, value, path, &scratch);
      return scratch.empty();
    });
    if (!matched)
      errors->push_back(path + ": matches none of " + alternatives + " " + options.dump());
  }
  if (schema.contains("type")) {
    const std::string type = schema["type"].get<std::string>();
    if (!HasType(value, type)) {
      errors->push_back(path + ": want " + type + ", got " + TypeName(value));
      return;
    }
  }
  if (schema.contains("enum")) {
    const json& allowed = schema["enum"];
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
      errors->push_back(path + ": " + value.dump() + " not one of " + allowed.dump());
  }
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (schema.contains("pattern") &&
        !RE2::PartialMatch(text, schema["pattern"].get<std::string>()))
      errors->push_back(path + ": \"" + text + "\" does not match " + schema["pattern"].dump());
    if (schema.contains("minLength") && text.size() < schema["minLength"].get<size_t>())
      errors->push_back(path + ": shorter than " + schema["minLength"].dump());
    if (schema.contains("maxLength") && text.size() > schema["maxLength"].get<size_t>())
      errors->push_back(path + ": longer than " + schema["maxLength"].dump());
  }
  if (value.is_number()) {
    const double number = value.get<double>();
    if (schema.contains("minimum") && number < schema["minimum"].get<double>())
      errors->push_back(path + ": below the minimum " + schema["minimum"].dump());
    if (schema.contains("maximum") && number > schema["maximum"].get<double>())
      errors->push_back(path + ": above the maximum " + schema["maximum"].dump());
    if (schema.value("format", "") == "int32" && (number < std::numeric_limits<int32_t>::min() ||
                                                  number > std::numeric_limits<int32_t>::max()))
      errors->push_back(path + ": out of int32 range");
  }
  if (value.is_array()) {
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>())
      errors->push_back(path + ": more than " + schema["maxItems"].dump() + " items");
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>())
      errors->push_back(path + ": fewer than " + schema["minItems"].dump() + " items");
    if (schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i)
        Check(schema["items"], value[i], path + "[" + std::to_string(i) + "]", errors);
    }
  }
  if (value.is_object())
    CheckObject(schema, value, path, errors);
}

void OpenApiValidator::CheckObject(const json& schema, const json& value, const std::string& path,
                                   std::vector<std::string>* errors) const {
  for (const auto& field : schema.value("required", json::array())) {
    if (!value.contains(field.get<std::string>()))
      errors->push_back(Child(path, field.get<std::string>()) + ": required");
  }
  const bool declares_fields =
      schema.contains("properties") || schema.contains("additionalProperties");
  if (!declares_fields)
    return;  // a free-form object (RawExtension, FieldsV1, CRD `metadata: {type: object}`)
  const json properties = schema.value("properties", json::object());
  const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
  for (const auto& [key, field] : value.items()) {
    if (properties.contains(key)) {
      Check(properties[key], field, Child(path, key), errors);
    } else if (schema.contains("additionalProperties") &&
               schema["additionalProperties"].is_object()) {
      Check(schema["additionalProperties"], field, Child(path, key), errors);
    } else if (!preserve && schema.value("additionalProperties", json(false)) != json(true)) {
      errors->push_back(Child(path, key) + ": unknown field");
    }
  }
}

}  // namespace seedhop::testing
