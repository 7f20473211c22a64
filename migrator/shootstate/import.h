// Target side of the state copy: wait for the garden's ShootState, reassemble it, and apply it to
// the target seed namespace in dependency order (namespace; Secrets and ConfigMaps; other
// resources; extension status), idempotently and with a stated conflict policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/kube/client.h"
#include "common/result.h"
#include "migrator/shootstate/export.h"

namespace seedhop::obs {
class Logger;
class Metrics;
}  // namespace seedhop::obs

namespace seedhop::migrator::shootstate {

// What to do with an object that exists on the target with different content.
enum class ConflictPolicy {
  kKeep,       // leave it, report a conflict (default: the target may already be live)
  kOverwrite,  // replace it with the exported content
};

// Parses "keep" or "overwrite".
Result<ConflictPolicy> ParseConflictPolicy(const std::string& text);

enum class Outcome { kCreated, kUpdated, kUnchanged, kConflict, kSkipped, kFailed };

// "created", "updated", "unchanged", "conflict", "skipped", "failed".
const char* OutcomeName(Outcome outcome);

// One object the import writes. `status_only`: an extension whose status.state/resources are
// restored through the status subresource of the object gardenlet creates on the target.
struct DesiredObject {
  kube::ResourceRef ref;  // in the target namespace
  nlohmann::json object;  // content to apply (server fields stripped, namespace set)
  bool status_only = false;
};

// Turns a reassembled ShootState into the objects to apply in namespace `ns`, in apply order:
// the Namespace, then Secrets and ConfigMaps, then other resources, then extension status.
// gardener[] entries of types other than "secret" (machine-state) are left to gardenlet and
// reported by the caller as skipped. Errors name the entry and field, never a secret value.
Result<std::vector<DesiredObject>> DesiredObjects(const nlohmann::json& shoot_state,
                                                  const std::string& ns);

enum class Action { kCreate, kUpdate, kNone, kConflict };

// Decides what to do with `desired` given the live object (`existing` null when absent). Only the
// fields the export carries are compared: labels, annotations, and every top-level field of
// `desired` (for status_only objects: status.state and status.resources).
Action Decide(const DesiredObject& desired, const nlohmann::json* existing, ConflictPolicy policy);

// Replaces, in `message`, every value of `secret`'s data (base64 and decoded, when at least 4
// bytes long) with "<redacted>". For errors whose text the server may have built from the object.
std::string RedactSecretValues(std::string message, const nlohmann::json& secret);

struct ObjectReport {
  std::string kind;
  std::string name;
  Outcome outcome = Outcome::kUnchanged;
  std::string detail;  // why, for conflict/skipped/failed; never a secret value
  uint64_t bytes = 0;  // bytes written (serialized object) for created/updated
};

struct ImportReport {
  std::vector<ObjectReport> objects;
  uint64_t bytes_copied = 0;

  size_t Count(Outcome outcome) const;
  // {"objects": [{kind, name, outcome, detail?, bytes}], "bytesCopied", "counts": {...}}.
  nlohmann::json ToJson() const;
};

struct ImportOptions {
  std::string target_namespace;  // the shoot namespace on the target seed
  ShootRef shoot;
  ConflictPolicy policy = ConflictPolicy::kKeep;
  std::chrono::milliseconds wait_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds poll_interval{std::chrono::seconds(2)};
  obs::Logger* logger = nullptr;  // may be null
  // Counts into seedhop_migrator_shootstate_objects_total{outcome} and
  // seedhop_migrator_shootstate_bytes_copied_total when set. May be null.
  obs::Metrics* metrics = nullptr;
};

// Waits (polling) until the ShootState and every part its manifest lists exist and check out,
// and returns it reassembled. A corrupt part or a manifest error fails at once; a missing
// ShootState or part is waited for until `wait_timeout` (kTimeout).
Result<nlohmann::json> WaitForShootState(kube::Client& garden, const ImportOptions& options);

// WaitForShootState, then applies every DesiredObject. A failure on one object is reported and the
// rest still applied; the result is an error only when nothing could be applied at all (no
// ShootState, unreadable state, namespace not creatable).
Result<ImportReport> ImportShootState(kube::Client& garden, kube::Client& seed,
                                      const ImportOptions& options);

}  // namespace seedhop::migrator::shootstate
