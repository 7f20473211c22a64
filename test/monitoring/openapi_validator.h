// Validates Kubernetes objects against the OpenAPI v3 documents kube-apiserver serves at
// /openapi/v3/<group-version> and against CustomResourceDefinition schemas, strictly: a field the
// schema does not declare is an error, as with `kubectl apply --validate=strict`.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::testing {

class OpenApiValidator {
 public:
  // Adds every schema of an OpenAPI v3 document (`components.schemas`). Kinds are found through
  // their `x-kubernetes-group-version-kind`. `origin` names the document in errors.
  Status AddOpenApiDocument(const nlohmann::json& document, const std::string& origin);

  // Adds the schema of every version of a CustomResourceDefinition (apiextensions.k8s.io/v1).
  // An object's `metadata` is checked against ObjectMeta, so a core/v1 document must be added too.
  Status AddCrd(const nlohmann::json& crd);

  // True when a schema for `apiVersion` (group/version, or version for the core group) and `kind`
  // was added.
  bool Knows(const std::string& api_version, const std::string& kind) const;

  // Every violation of `object`'s schema, each as "<path>: <what>" ("spec.replicas: want integer,
  // got string"); empty when the object is valid. REQUIRES: Knows(object's apiVersion, kind).
  std::vector<std::string> Validate(const nlohmann::json& object) const;

 private:
  struct Kind {
    nlohmann::json schema;
    bool custom = false;  // a CRD schema: `metadata` is checked against ObjectMeta
  };

  void Check(const nlohmann::json& schema, const nlohmann::json& value, const std::string& path,
             std::vector<std::string>* errors) const;
  void CheckObject(const nlohmann::json& schema, const nlohmann::json& value,
                   const std::string& path, std::vector<std::string>* errors) const;
  const nlohmann::json* Resolve(const std::string& ref) const;

  std::map<std::string, nlohmann::json> schemas_;  // components.schemas of every document
  std::map<std::string, Kind> kinds_;              // "apiVersion/Kind"
};

}  // namespace seedhop::testing
