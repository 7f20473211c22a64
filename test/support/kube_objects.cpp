#include "test/support/kube_objects.h"

namespace seedhop::testing {

using nlohmann::json;

json PreservingCrd(const std::string& group, const std::string& version, const std::string& kind,
                   const std::string& plural) {
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + "." + group}}},
          {"spec",
           {{"group", group},
            {"names", {{"kind", kind}, {"plural", plural}}},
            {"scope", "Namespaced"},
            {"versions",
             {{{"name", version},
               {"served", true},
               {"storage", true},
               {"subresources", {{"status", json::object()}}},
               {"schema",
                {{"openAPIV3Schema",
                  {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
}

json NamespaceObject(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
}

json LiveMigrationObject(const LiveMigrationNames& names) {
  auto seed = [&](const char* seed_name, const char* gateway) {
    return json{{"seed", seed_name},
                {"peerAddresses", {{{"etcd", names.etcd}, {"gateway", gateway}}}}};
  };
  return {{"apiVersion", "seedhop.io/v1alpha1"},
          {"kind", "LiveMigration"},
          {"metadata", {{"name", names.name}, {"namespace", names.garden_namespace}}},
          {"spec",
           {{"shootNamespace", names.shoot_namespace},
            {"source", seed("eu1", "10.1.0.1")},
            {"target", seed("eu2", "10.2.0.1")},
            {"etcds", {{{"name", names.etcd}, {"replicas", names.replicas}}}}}}};
}

}  // namespace seedhop::testing
