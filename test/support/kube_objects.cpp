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

}  // namespace seedhop::testing
