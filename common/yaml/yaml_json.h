// YAML to JSON for Kubernetes manifests: what kubectl does before it sends an object.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace YAML {
class Node;
}

namespace seedhop::yaml {

// Converts one YAML node. Quoted scalars stay strings; plain scalars become null, booleans
// (true/false), integers or floats where they read as such (YAML 1.2 core schema), else strings.
nlohmann::json ToJson(const YAML::Node& node);

// Parses every document of `text` (`---` separated); empty documents are skipped. Errors name
// `origin` and the line.
Result<std::vector<nlohmann::json>> ParseDocuments(const std::string& text,
                                                   const std::string& origin);

// Reads and parses the YAML file at `path`.
Result<std::vector<nlohmann::json>> ReadDocuments(const std::string& path);

}  // namespace seedhop::yaml
