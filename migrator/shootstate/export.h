// Source side of the state copy: read the shoot's seed namespace, build the garden's ShootState
// (core.gardener.cloud/v1beta1, schema of gardener/gardener:pkg/apis/core/v1beta1/
// types_shootstate.go) and write it, split into parts when it exceeds the object size limit.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/kube/client.h"
#include "common/result.h"
#include "migrator/shootstate/chunk.h"
#include "migrator/shootstate/copy_rules.h"

namespace seedhop::obs {
class Logger;
}

namespace seedhop::migrator::shootstate {

// Where the ShootState lives: same name as the Shoot, in its project namespace of the garden.
struct ShootRef {
  std::string name;              // "my-shoot"
  std::string garden_namespace;  // "garden-my-project"
};

// The garden resource of ShootStates.
kube::ResourceRef ShootStateResource(const std::string& garden_namespace);

// Returns `object` without what the source server set and the target must not see: uid,
// resourceVersion, generation, creationTimestamp, managedFields, selfLink, deletion fields,
// ownerReferences (their uids are the source seed's), namespace and, unless `keep_status`,
// status.
nlohmann::json StripServerFields(const nlohmann::json& object, bool keep_status = false);

// Builds the ShootState from `objects` (everything collected from the seed namespace): Secrets
// selected by a Secret rule go to spec.gardener[] (type "secret", SecretState data), other
// selected objects and the resources extensions reference go to spec.resources[], extensions
// with status.state or status.resources go to spec.extensions[]. Output is sorted, so equal input
// gives byte-equal output. `timestamp` (RFC 3339) is stamped as gardener.cloud/timestamp.
// Fails when an extension references an object that is not in `objects`.
Result<nlohmann::json> BuildShootState(const std::vector<nlohmann::json>& objects,
                                       const CopyRules& rules, const ShootRef& shoot,
                                       const std::string& timestamp);

// Lists what `rules` select in namespace `ns` (server-side label selectors) plus the extension
// objects and every object they reference. Kinds whose resource the server does not serve
// (NotFound on list) are skipped: a seed without, say, SelfHostedShootExposure is normal.
Result<std::vector<nlohmann::json>> CollectSeedObjects(kube::Client& seed, const std::string& ns,
                                                       const CopyRules& rules);

struct ExportOptions {
  std::string seed_namespace;  // shoot--<project>--<name>
  ShootRef shoot;
  CopyRules rules = DefaultCopyRules();
  size_t max_object_bytes = kDefaultMaxObjectBytes;
  std::string timestamp;          // "": now (UTC)
  obs::Logger* logger = nullptr;  // may be null
};

struct ExportResult {
  size_t gardener_entries = 0;
  size_t extensions = 0;
  size_t resources = 0;
  size_t spec_bytes = 0;  // serialized spec
  size_t parts = 0;       // 0: stored whole
  bool compressed = false;
};

// Collects, builds and writes the ShootState to the garden: parts first, then the ShootState
// (so a reader that sees a manifest finds its parts), then parts left over from a larger earlier
// export are deleted. Creates or replaces; safe to run again.
Result<ExportResult> ExportShootState(kube::Client& seed, kube::Client& garden,
                                      const ExportOptions& options);

}  // namespace seedhop::migrator::shootstate
