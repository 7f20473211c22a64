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

// The identity of a one-etcd LiveMigration: `name` in `garden_namespace`, moving the
// `replicas`-member `etcd` of `shoot_namespace` from seed eu1 to seed eu2.
struct LiveMigrationNames {
  std::string garden_namespace;
  std::string name;
  std::string shoot_namespace;
  std::string etcd;
  int replicas = 3;
};

// A seedhop.io/v1alpha1 LiveMigration for `names`, each seed's etcd peers behind one gateway
// address (eu1 10.1.0.1, eu2 10.2.0.1). Callers add the optional spec fields they test.
nlohmann::json LiveMigrationObject(const LiveMigrationNames& names);

}  // namespace seedhop::testing
