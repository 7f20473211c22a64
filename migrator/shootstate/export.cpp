#include "migrator/shootstate/export.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/obs/log.h"
#include "common/time/rfc3339.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

// gardener/gardener:pkg/apis/core/v1beta1/constants/types_constants.go (DataTypeSecret,
// GardenerTimestamp).
constexpr char kDataTypeSecret[] = "secret";
constexpr char kTimestampAnnotation[] = "gardener.cloud/timestamp";

std::string NameOf(const json& object) {
  return object.value("metadata", json::object()).value("name", "");
}

// Splits "group/version" ("v1" for the core group).
std::pair<std::string, std::string> SplitApiVersion(const std::string& api_version) {
  size_t slash = api_version.find('/');
  if (slash == std::string::npos)
    return {"", api_version};
  return {api_version.substr(0, slash), api_version.substr(slash + 1)};
}

// shootstate.SecretState of gardener/gardener:pkg/utils/gardener/shootstate/shootstate.go.
json SecretEntry(const json& secret) {
  json state = {{"data", secret.value("data", json::object())}};
  if (secret.contains("immutable") && secret["immutable"].is_boolean())
    state["immutable"] = secret["immutable"];
  if (secret.contains("type") && secret["type"].is_string())
    state["type"] = secret["type"];
  json entry = {{"name", NameOf(secret)}, {"type", kDataTypeSecret}, {"data", state}};
  json labels = secret["metadata"].value("labels", json());
  if (labels.is_object() && !labels.empty())
    entry["labels"] = labels;
  return entry;
}

json ResourceEntry(const json& object) {
  return {{"apiVersion", object.value("apiVersion", "")},
          {"kind", object.value("kind", "")},
          {"name", NameOf(object)},
          {"data", StripServerFields(object)}};
}

using Key = std::tuple<std::string, std::string, std::string>;  // apiVersion, kind, name

Key KeyOf(const json& object) {
  return {object.value("apiVersion", ""), object.value("kind", ""), NameOf(object)};
}

Status CreateOrReplace(kube::Client& client, const kube::ResourceRef& ref, const json& object) {
  const std::string name = NameOf(object);
  auto existing = client.Get(ref, name);
  if (!existing.ok() && existing.error().code() != ErrorCode::kNotFound)
    return existing.error();
  if (!existing.ok()) {
    auto created = client.Create(ref, object);
    if (!created.ok())
      return created.error();
    return OkStatus();
  }
  json replacement = object;
  replacement["metadata"]["resourceVersion"] = (*existing)["metadata"]["resourceVersion"];
  auto updated = client.Update(ref, replacement);
  if (!updated.ok())
    return updated.error();
  return OkStatus();
}

}  // namespace

kube::ResourceRef ShootStateResource(const std::string& garden_namespace) {
  return {"core.gardener.cloud", "v1beta1", "shootstates", garden_namespace};
}

json StripServerFields(const json& object, bool keep_status) {
  json out = object;
  if (!keep_status)
    out.erase("status");
  if (out.contains("metadata") && out["metadata"].is_object()) {
    json& metadata = out["metadata"];
    for (const char* field :
         {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
          "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "namespace",
          "generateName", "finalizers"}) {
      metadata.erase(field);
    }
  }
  return out;
}

Result<json> BuildShootState(const std::vector<json>& objects, const CopyRules& rules,
                             const ShootRef& shoot, const std::string& timestamp) {
  std::map<Key, const json*> by_key;
  for (const auto& object : objects)
    by_key[KeyOf(object)] = &object;

  json gardener = json::array();
  json extensions = json::array();
  std::map<Key, json> resources;
  std::set<std::string> secrets_in_gardener;
  const std::set<std::string> extension_kinds(rules.extension_kinds.begin(),
                                              rules.extension_kinds.end());

  for (const auto& [key, object] : by_key) {
    const auto& [api_version, kind, name] = key;
    bool selected = std::any_of(rules.rules.begin(), rules.rules.end(),
                                [&](const CopyRule& rule) { return rule.Matches(*object); });
    if (selected && api_version == "v1" && kind == "Secret") {
      gardener.push_back(SecretEntry(*object));
      secrets_in_gardener.insert(name);
    } else if (selected) {
      resources[key] = ResourceEntry(*object);
    }
    if (api_version != kExtensionsApiVersion || !extension_kinds.contains(kind))
      continue;
    // computeExtensionsDataAndResources: skip deleting objects and those with nothing to keep.
    const json metadata = object->value("metadata", json::object());
    if (metadata.contains("deletionTimestamp"))
      continue;
    const json status = object->value("status", json::object());
    json state = status.value("state", json());
    json refs = status.value("resources", json::array());
    if (!refs.is_array())
      return Error(ErrorCode::kInvalid, kind + " " + name + ": status.resources: not a list");
    if (state.is_null() && refs.empty())
      continue;
    json entry = {{"kind", kind}, {"name", name}};
    if (const json spec = object->value("spec", json::object()); spec.contains("purpose"))
      entry["purpose"] = spec["purpose"];
    if (!state.is_null())
      entry["state"] = state;
    if (!refs.empty())
      entry["resources"] = refs;
    extensions.push_back(std::move(entry));
    for (size_t i = 0; i < refs.size(); ++i) {
      const json ref = refs[i].value("resourceRef", json::object());
      Key target{ref.value("apiVersion", ""), ref.value("kind", ""), ref.value("name", "")};
      auto found = by_key.find(target);
      if (found == by_key.end()) {
        return Error(ErrorCode::kNotFound, kind + " " + name + ": status.resources[" +
                                               std::to_string(i) + "]: " + std::get<1>(target) +
                                               " " + std::get<2>(target) + " not found");
      }
      resources[target] = ResourceEntry(*found->second);
    }
  }

  json resource_list = json::array();
  for (auto& [key, entry] : resources) {
    // A persisted Secret that an extension also references is stored once, in spec.gardener.
    if (std::get<1>(key) == "Secret" && std::get<0>(key) == "v1" &&
        secrets_in_gardener.contains(std::get<2>(key))) {
      continue;
    }
    resource_list.push_back(std::move(entry));
  }
  json spec = json::object();
  if (!gardener.empty())
    spec["gardener"] = std::move(gardener);
  if (!extensions.empty())
    spec["extensions"] = std::move(extensions);
  if (!resource_list.empty())
    spec["resources"] = std::move(resource_list);
  return json{{"apiVersion", "core.gardener.cloud/v1beta1"},
              {"kind", "ShootState"},
              {"metadata",
               {{"name", shoot.name},
                {"namespace", shoot.garden_namespace},
                {"annotations", {{kTimestampAnnotation, timestamp}}}}},
              {"spec", std::move(spec)}};
}

Result<std::vector<json>> CollectSeedObjects(kube::Client& seed, const std::string& ns,
                                             const CopyRules& rules) {
  std::vector<json> objects;
  auto list = [&](const kube::ResourceRef& ref, const std::string& selector) -> Status {
    kube::ListOptions options;
    options.label_selector = selector;
    auto items = seed.ListAll(ref, options);
    if (!items.ok()) {
      if (items.error().code() == ErrorCode::kNotFound)
        return OkStatus();
      return items.error().Wrap("namespace " + ns);
    }
    const std::string api_version = ref.group.empty() ? ref.version : ref.group + "/" + ref.version;
    for (auto& item : (*items)["items"]) {
      // List items may come without apiVersion/kind; the list's resource says what they are.
      item["apiVersion"] = api_version;
      objects.push_back(std::move(item));
    }
    return OkStatus();
  };
  auto kind_for = [&](size_t first, const std::string& kind) {
    for (size_t i = first; i < objects.size(); ++i)
      objects[i]["kind"] = kind;
  };
  for (const auto& rule : rules.rules) {
    auto [group, version] = SplitApiVersion(rule.api_version);
    size_t first = objects.size();
    auto listed = list({group, version, rule.resource, ns}, rule.selector.text);
    if (!listed.ok())
      return listed.error().Wrap("rule " + rule.name);
    kind_for(first, rule.kind);
  }
  auto [ext_group, ext_version] = SplitApiVersion(kExtensionsApiVersion);
  std::set<Key> have;
  for (const auto& object : objects)
    have.insert(KeyOf(object));
  std::vector<json> referenced;
  for (const auto& kind : rules.extension_kinds) {
    size_t first = objects.size();
    auto listed = list({ext_group, ext_version, PluralOf(kind), ns}, "");
    if (!listed.ok())
      return listed.error();
    kind_for(first, kind);
    for (size_t i = first; i < objects.size(); ++i) {
      const json refs = objects[i].value("status", json::object()).value("resources", json());
      if (!refs.is_array())
        continue;
      for (const auto& named : refs) {
        const json ref = named.value("resourceRef", json::object());
        Key key{ref.value("apiVersion", ""), ref.value("kind", ""), ref.value("name", "")};
        if (have.contains(key))
          continue;
        auto [group, version] = SplitApiVersion(std::get<0>(key));
        auto got = seed.Get({group, version, PluralOf(std::get<1>(key)), ns}, std::get<2>(key));
        if (!got.ok()) {
          return got.error().Wrap(kind + " " + NameOf(objects[i]) + ": referenced " +
                                  std::get<1>(key) + " " + std::get<2>(key));
        }
        (*got)["apiVersion"] = std::get<0>(key);
        (*got)["kind"] = std::get<1>(key);
        have.insert(key);
        referenced.push_back(std::move(*got));
      }
    }
  }
  for (auto& object : referenced)
    objects.push_back(std::move(object));
  return objects;
}

Result<ExportResult> ExportShootState(kube::Client& seed, kube::Client& garden,
                                      const ExportOptions& options) {
  const std::string context =
      "export shootstate " + options.shoot.garden_namespace + "/" + options.shoot.name;
  auto objects = CollectSeedObjects(seed, options.seed_namespace, options.rules);
  if (!objects.ok())
    return objects.error().Wrap(context);
  auto state = BuildShootState(*objects, options.rules, options.shoot,
                               options.timestamp.empty() ? NowRfc3339() : options.timestamp);
  if (!state.ok())
    return state.error().Wrap(context);
  auto packed = Pack(*state, options.max_object_bytes);
  if (!packed.ok())
    return packed.error().Wrap(context);

  const kube::ResourceRef configmaps{"", "v1", "configmaps", options.shoot.garden_namespace};
  for (const auto& part : packed->parts) {
    auto written = CreateOrReplace(garden, configmaps, part);
    if (!written.ok())
      return written.error().Wrap(context + ": part " + NameOf(part));
  }
  auto written = CreateOrReplace(garden, ShootStateResource(options.shoot.garden_namespace),
                                 packed->shoot_state);
  if (!written.ok())
    return written.error().Wrap(context);

  kube::ListOptions stale;
  stale.label_selector = std::string(kPartOfLabel) + "=" + options.shoot.name;
  auto existing = garden.ListAll(configmaps, stale);
  if (!existing.ok())
    return existing.error().Wrap(context + ": list parts");
  std::set<std::string> current;
  for (const auto& part : packed->parts)
    current.insert(NameOf(part));
  for (const auto& item : (*existing)["items"]) {
    if (current.contains(NameOf(item)))
      continue;
    auto deleted = garden.Delete(configmaps, NameOf(item));
    if (!deleted.ok() && deleted.error().code() != ErrorCode::kNotFound)
      return deleted.error().Wrap(context + ": delete stale part");
  }

  ExportResult result;
  const json& spec = (*state)["spec"];
  result.gardener_entries = spec.value("gardener", json::array()).size();
  result.extensions = spec.value("extensions", json::array()).size();
  result.resources = spec.value("resources", json::array()).size();
  result.spec_bytes = packed->spec_bytes;
  result.parts = packed->parts.size();
  result.compressed = packed->compressed;
  if (options.logger) {
    options.logger->Info("shootstate exported",
                         {{"shootstate", options.shoot.garden_namespace + "/" + options.shoot.name},
                          {"secrets", std::to_string(result.gardener_entries)},
                          {"extensions", std::to_string(result.extensions)},
                          {"resources", std::to_string(result.resources)},
                          {"specBytes", std::to_string(result.spec_bytes)},
                          {"parts", std::to_string(result.parts)}});
  }
  return result;
}

}  // namespace seedhop::migrator::shootstate
