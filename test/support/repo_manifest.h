// Shipped manifests as tests read them: the first YAML document of a file in the source tree.
// Header-only because it needs what seedhop_test gives each test binary: SEEDHOP_SOURCE_DIR and
// GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/yaml/yaml_json.h"

namespace seedhop::testing {

// The first document of `relative` ("manifests/crds/etcdplans.yaml"); fails the current test and
// returns null when the file cannot be read or holds no document.
inline nlohmann::json RepoManifest(const std::string& relative) {
  auto documents = yaml::ReadDocuments(std::string(SEEDHOP_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(documents.ok() && !documents->empty())
      << relative << ": " << (documents.ok() ? "no document" : documents.error().message());
  return documents.ok() && !documents->empty() ? documents->front() : nlohmann::json();
}

}  // namespace seedhop::testing
