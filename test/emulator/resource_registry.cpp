#include "test/emulator/resource_registry.h"

namespace seedhop::emulator {

std::string ResourceInfo::GroupVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceInfo::StorageKey() const {
  return group + "/" + resource;
}

namespace {

ResourceInfo Builtin(std::string group, std::string version, std::string resource, std::string kind,
                     bool namespaced, std::vector<std::string> short_names) {
  ResourceInfo info;
  info.group = std::move(group);
  info.version = std::move(version);
  info.resource = std::move(resource);
  info.list_kind = kind + "List";
  info.singular = kind;
  for (char& c : info.singular)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  info.kind = std::move(kind);
  info.namespaced = namespaced;
  info.short_names = std::move(short_names);
  return info;
}

}  // namespace

ResourceRegistry ResourceRegistry::WithBuiltins() {
  ResourceRegistry registry;
  // Short names and status subresources as kube-apiserver v1.31 serves them in discovery.
  auto add = [&](ResourceInfo info, bool status = false, bool create_on_update = false) {
    info.has_status = status;
    info.allow_create_on_update = create_on_update;
    registry.Add(std::move(info));
  };
  add(Builtin("", "v1", "namespaces", "Namespace", false, {"ns"}), true);
  add(Builtin("", "v1", "configmaps", "ConfigMap", true, {"cm"}));
  add(Builtin("", "v1", "secrets", "Secret", true, {}));
  add(Builtin("", "v1", "services", "Service", true, {"svc"}), true);
  add(Builtin("", "v1", "endpoints", "Endpoints", true, {"ep"}), false, true);
  add(Builtin("", "v1", "pods", "Pod", true, {"po"}), true);
  add(Builtin("", "v1", "events", "Event", true, {"ev"}), false, true);
  add(Builtin("", "v1", "serviceaccounts", "ServiceAccount", true, {"sa"}));
  add(Builtin("apps", "v1", "deployments", "Deployment", true, {"deploy"}), true);
  ResourceInfo sts = Builtin("apps", "v1", "statefulsets", "StatefulSet", true, {"sts"});
  sts.has_scale = true;
  add(std::move(sts), true);
  add(Builtin("coordination.k8s.io", "v1", "leases", "Lease", true, {}), false, true);
  add(Builtin("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
              "MutatingWebhookConfiguration", false, {}));
  add(Builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
              false, {"crd", "crds"}),
      true);
  return registry;
}

void ResourceRegistry::Add(ResourceInfo info) {
  auto key = std::make_tuple(info.group, info.version, info.resource);
  resources_.insert_or_assign(std::move(key), std::move(info));
}

void ResourceRegistry::Remove(const std::string& group, const std::string& resource) {
  std::erase_if(resources_, [&](const auto& entry) {
    return std::get<0>(entry.first) == group && std::get<2>(entry.first) == resource;
  });
}

std::optional<ResourceInfo> ResourceRegistry::Find(const std::string& group,
                                                   const std::string& version,
                                                   const std::string& resource) const {
  auto it = resources_.find(std::make_tuple(group, version, resource));
  if (it == resources_.end())
    return std::nullopt;
  return it->second;
}

std::map<std::string, std::vector<std::string>> ResourceRegistry::Groups() const {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& [key, info] : resources_) {
    if (info.group.empty())
      continue;
    auto& versions = groups[info.group];
    if (versions.empty() || versions.back() != info.version)
      versions.push_back(info.version);
  }
  return groups;
}

std::vector<ResourceInfo> ResourceRegistry::InGroupVersion(const std::string& group,
                                                           const std::string& version) const {
  std::vector<ResourceInfo> found;
  for (auto it = resources_.lower_bound(std::make_tuple(group, version, std::string()));
       it != resources_.end() && std::get<0>(it->first) == group &&
       std::get<1>(it->first) == version;
       ++it) {
    found.push_back(it->second);
  }
  return found;
}

Result<std::vector<ResourceInfo>> ResourcesFromCrd(const nlohmann::json& crd) {
  // Field names: k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types.go.
  const nlohmann::json spec = crd.value("spec", nlohmann::json::object());
  const nlohmann::json names = spec.value("names", nlohmann::json::object());
  ResourceInfo base;
  base.group = spec.value("group", "");
  base.resource = names.value("plural", "");
  base.kind = names.value("kind", "");
  if (base.group.empty())
    return Error(ErrorCode::kInvalid, "spec.group: Required value");
  if (base.resource.empty())
    return Error(ErrorCode::kInvalid, "spec.names.plural: Required value");
  if (base.kind.empty())
    return Error(ErrorCode::kInvalid, "spec.names.kind: Required value");
  std::string expected_name = base.resource + "." + base.group;
  std::string name = crd.value("metadata", nlohmann::json::object()).value("name", "");
  if (name != expected_name) {
    return Error(ErrorCode::kInvalid, "metadata.name: Invalid value: \"" + name +
                                          "\": must be spec.names.plural+\".\"+spec.group");
  }
  base.list_kind = names.value("listKind", base.kind + "List");
  base.singular = names.value("singular", "");
  if (base.singular.empty()) {
    base.singular = base.kind;
    for (char& c : base.singular)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (auto shorts = names.find("shortNames"); shorts != names.end() && shorts->is_array()) {
    base.short_names = shorts->get<std::vector<std::string>>();
  }
  std::string scope = spec.value("scope", "");
  if (scope != "Namespaced" && scope != "Cluster") {
    return Error(ErrorCode::kInvalid, "spec.scope: Unsupported value: \"" + scope + "\"");
  }
  base.namespaced = scope == "Namespaced";
  std::vector<ResourceInfo> served;
  for (const auto& version : spec.value("versions", nlohmann::json::array())) {
    if (!version.value("served", false))
      continue;
    ResourceInfo info = base;
    info.version = version.value("name", "");
    if (info.version.empty())
      return Error(ErrorCode::kInvalid, "spec.versions.name: Required value");
    const nlohmann::json subresources = version.value("subresources", nlohmann::json::object());
    info.has_status = subresources.contains("status");
    served.push_back(std::move(info));
  }
  if (served.empty())
    return Error(ErrorCode::kInvalid,
                 "spec.versions: must have exactly one version marked as storage version");
  return served;
}

}  // namespace seedhop::emulator
