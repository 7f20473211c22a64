// The garden's `LiveMigration` (seedhop.io/v1alpha1, manifests/crds/livemigrations.yaml): the only
// rendezvous of the two migrators. The operator writes the spec; the source migrator writes only
// status.source, the target migrator only status.target. Pure data and JSON mapping, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "migrator/planner.h"

namespace seedhop::migrator {

inline constexpr char kLiveMigrationKind[] = "LiveMigration";
inline constexpr char kLiveMigrationResource[] = "livemigrations";
// The namespace label that routes a seed's etcd StatefulSets through seedhop-webhook
// (manifests/webhook/mutatingwebhookconfiguration.yaml, namespaceSelector).
inline constexpr char kMigratingLabel[] = "seedhop.io/migrating";

// How one seed's pods reach another seed's members of one etcd on the peer port: one gateway
// address for every ordinal (istio SNI passthrough), or one address per ordinal (pre-created
// per-member LoadBalancers).
struct PeerAddresses {
  std::string gateway;
  std::map<int, std::string> members;

  // Returns the address for member `ordinal`, or nullopt when none is configured.
  std::optional<std::string> For(int ordinal) const;
};

struct SeedSpec {
  std::string seed;                            // the seed's name, as the migrator's --seed-name
  std::map<std::string, PeerAddresses> peers;  // etcd name -> how to reach its members there
  std::string ingress_address;                 // the seed's istio ingress (DNS switch target)
};

struct EtcdSpec {
  std::string name;  // "etcd-main"
  int replicas = 3;  // steady size: 1, 3 or 5
};

struct MigrationSpec {
  std::string name;              // metadata.name == the Shoot's name
  std::string garden_namespace;  // metadata.namespace == the Shoot's project namespace
  std::string shoot_namespace;   // the control-plane namespace on both seeds
  SeedSpec source;
  SeedSpec target;
  std::vector<EtcdSpec> etcds;  // moved in this order
  Strategy strategy = Strategy::kSafe;
  bool allow_unsafe_strategy = false;    // required with Strategy::kSwap
  std::vector<std::string> dns_records;  // DNSRecord names in the shoot namespace
  int dns_max_wait_seconds = -1;         // cap on the TTL wait after the switch; -1: the TTL
  int step_timeout_seconds = 600;        // a step still failing after this halts its side
  std::string conflict_policy = "keep";  // ShootState import: "keep" or "overwrite"
  int64_t resume_request = 0;            // raised by `seedhop-migrator resume`
  bool abort_requested = false;          // set by `seedhop-migrator abort`

  const SeedSpec& Seed(Side side) const { return side == Side::kSource ? source : target; }
};

// Parses a LiveMigration object. Errors name the object and the field
// ("livemigration garden-dev/a: spec.etcds[0].replicas: must be 1, 3 or 5").
Result<MigrationSpec> ParseMigrationSpec(const nlohmann::json& object);

// What a side is doing.
enum class Phase { kPending, kRunning, kWaiting, kHalted, kDone, kAborted };
// "Pending", "Running", "Waiting", "Halted", "Done", "Aborted".
const char* PhaseName(Phase phase);

// One member as one side sees it. Health is known only for members whose pods run on that side.
struct ObservedMember {
  uint64_t id = 0;
  int ordinal = -1;  // from the member name or its peer URL; -1: not one of ours
  bool learner = false;
  bool local = false;    // its pod runs on the reporting side
  bool healthy = false;  // meaningful when `local`
  uint64_t raft_index = 0;

  bool operator==(const ObservedMember&) const = default;
};

// One side's view of one etcd cluster.
struct EtcdView {
  std::string etcd;
  std::string observed_at;  // RFC 3339
  int after_step = 0;       // completed steps the reporter knew of when it observed
  uint64_t leader_id = 0;
  std::vector<ObservedMember> members;  // as the member list gives them
  std::string problem;                  // why the view is incomplete; "" when complete
};

struct HistoryEntry {
  int step = 0;
  std::string name;
  std::string started;   // RFC 3339
  std::string finished;  // RFC 3339; "" while running
  std::string result;    // "Running", "Succeeded", "Failed", "Resumed", "Aborted"
  std::string message;
};

// status.source or status.target.
struct SideStatus {
  Phase phase = Phase::kPending;
  int completed_steps = 0;   // steps 0..completed_steps-1 are done, as this side observed
  int current_step = -1;     // the step being executed or waited on; -1: none
  std::string step_started;  // RFC 3339, when current_step began
  std::string message;
  std::string flow_fingerprint;  // FlowFingerprint() of the flow this side started with
  int64_t observed_resume_request = 0;
  std::string holder;  // the migrator replica that wrote this
  std::vector<EtcdView> etcd;
  std::vector<HistoryEntry> history;
};

// Reads status.<side> of a LiveMigration object (defaults when absent).
Result<SideStatus> ParseSideStatus(const nlohmann::json& object, Side side);
// Returns the JSON of status.<side>.
nlohmann::json ToJson(const SideStatus& status);

}  // namespace seedhop::migrator
