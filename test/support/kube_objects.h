// Kubernetes objects that tests and the lab create over and over.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/kube/client.h"

namespace seedhop::testing {

// Where tests create namespaces and CustomResourceDefinitions (cluster-scoped).
inline const kube::ResourceRef kNamespaces{"", "v1", "namespaces", ""};
inline const kube::ResourceRef kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", ""};

// A namespaced apiextensions.k8s.io/v1 CustomResourceDefinition serving `group`/`version` `kind`
// (resource `plural`) with a status subresource and a schema that keeps every field: for
// Gardener's and other upstream kinds whose full schema the tests do not need.
nlohmann::json PreservingCrd(const std::string& group, const std::string& version,
                             const std::string& kind, const std::string& plural);

// A v1 Namespace named `name`.
nlohmann::json NamespaceObject(const std::string& name);

}  // namespace seedhop::testing
