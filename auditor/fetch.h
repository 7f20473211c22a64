// Reads a seed's shoot namespaces from its API server. Cluster-wide mode lists each resource type
// once for all namespaces (7 paginated lists for any number of shoots), one page in memory at a
// time, and keeps only the objects of shoot namespaces, trimmed and packed (snapshot.h);
// single-namespace mode (-n) lists inside that namespace. A list that fails becomes a
// per-namespace FetchError: the rest of the audit goes on.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "auditor/rules.h"
#include "auditor/snapshot.h"
#include "common/kube/client.h"

namespace seedhop::auditor {

struct FetchOptions {
  std::string single_namespace;  // when set, only this namespace (the pattern is not applied)
  Pattern namespace_pattern;     // used when single_namespace is empty
  int64_t page_size = 500;
  // Receives one line per step ("listed 2000 namespaces"). May be empty.
  std::function<void(std::string_view)> progress;
};

// Fetches the namespaces, in the order of the namespace list. Failures to list namespaces (or a
// missing -n namespace) are seed-wide errors in PackedSeed::errors; failures of one resource
// type are FetchErrors.
PackedSeed FetchSnapshot(kube::Client& client, const FetchOptions& options);

}  // namespace seedhop::auditor
