// Which resources the emulator serves: the built-in ones and those registered by
// CustomResourceDefinitions. Discovery documents and URL routing both read from here.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::emulator {

struct ResourceInfo {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;   // plural, lower-case: "statefulsets"
  std::string kind;       // "StatefulSet"
  std::string list_kind;  // "StatefulSetList"
  std::string singular;   // "statefulset"
  bool namespaced = true;
  std::vector<std::string> short_names;
  bool has_status = false;
  bool has_scale = false;
  // PUT on a missing object creates it (kube-apiserver's AllowCreateOnUpdate: endpoints, events,
  // leases).
  bool allow_create_on_update = false;

  // "v1" or "apps/v1".
  std::string GroupVersion() const;
  // The storage key, shared by every version of a resource: "apps/statefulsets".
  std::string StorageKey() const;
};

// Thread-compatible: callers synchronise (the API server guards it with a lock).
class ResourceRegistry {
 public:
  // A registry with the built-in resources: core v1 namespaces, configmaps, secrets, services,
  // endpoints, pods, events, serviceaccounts; apps/v1 deployments, statefulsets;
  // coordination.k8s.io/v1 leases; admissionregistration.k8s.io/v1
  // mutatingwebhookconfigurations; apiextensions.k8s.io/v1 customresourcedefinitions.
  static ResourceRegistry WithBuiltins();

  // Adds or replaces the resource with the same group/version/resource.
  void Add(ResourceInfo info);
  // Removes every version of `resource` in `group`.
  void Remove(const std::string& group, const std::string& resource);

  std::optional<ResourceInfo> Find(const std::string& group, const std::string& version,
                                   const std::string& resource) const;
  // Groups other than core, sorted by name, each with its versions.
  std::map<std::string, std::vector<std::string>> Groups() const;
  // Every resource served at group/version, sorted by resource name.
  std::vector<ResourceInfo> InGroupVersion(const std::string& group,
                                           const std::string& version) const;

 private:
  // Keyed by (group, version, resource).
  std::map<std::tuple<std::string, std::string, std::string>, ResourceInfo> resources_;
};

// The resources an apiextensions.k8s.io/v1 CustomResourceDefinition serves: one per served
// version. Errors (kInvalid) name the missing field.
Result<std::vector<ResourceInfo>> ResourcesFromCrd(const nlohmann::json& crd);

}  // namespace seedhop::emulator
