// The auditor's classification rules: which containers are which control-plane component, where
// each component's leader-election lock lives, and which Leases are not locks at all. Loaded from
// YAML (a rules file layered over the built-in defaults, see docs/auditor.md); the defaults encode
// shared/design/research/leader-election-locks.md (Gardener + provider-aws).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace seedhop::auditor {

// Which kube-apiserver holds a lock.
enum class Location {
  kShoot,    // the shoot's kube-apiserver: one lock shared by both seeds during live migration
  kSeed,     // the seed's kube-apiserver: each seed holds its own copy, both can lead
  kNone,     // the component does not elect a leader
  kUnknown,  // the auditor cannot tell
};

// Returns "shoot", "seed", "none" or "unknown" (also a metrics label value).
const char* LocationName(Location location);

// Parses a LocationName() string; nullopt for anything else.
std::optional<Location> ParseLocation(std::string_view name);

// An re2 pattern matched against the whole subject (RE2::FullMatch). Cheap to copy.
class Pattern {
 public:
  // A pattern that matches nothing (the value of an unset rule).
  Pattern() = default;

  // Compiles `source`; an error names the re2 complaint.
  static Result<Pattern> Compile(const std::string& source);

  // True when `subject` matches the whole pattern.
  bool FullMatch(std::string_view subject) const;
  const std::string& source() const { return source_; }

 private:
  Pattern(std::string source, std::shared_ptr<const re2::RE2> re)
      : source_(std::move(source)), re_(std::move(re)) {}

  std::string source_;
  std::shared_ptr<const re2::RE2> re_;
};

// A Lease that is a heartbeat or an identity record, not a leader-election lock (etcd-druid's
// member and snapshot leases, kube-apiserver identity leases). Every condition given must hold.
struct NotLockRule {
  std::string name;                           // shown in reports as the reason
  std::optional<Pattern> lease_name;          // re2 on metadata.name
  std::map<std::string, std::string> labels;  // all must be present with these values
  std::optional<Pattern> holder;              // re2 on spec.holderIdentity
};

// Where a component-config file keeps its client and leader-election settings (dotted paths into
// the YAML document, e.g. "leaderElection.resourceName").
struct ConfigFileRule {
  std::string flag;  // the flag naming the file, e.g. "--config"
  std::string kubeconfig_field;
  std::string leader_elect_field;
  std::string lock_name_field;
  std::string lock_namespace_field;
};

// One control-plane component: how to recognise its containers and how its leader election works.
struct ComponentRule {
  std::string name;
  Pattern containers;                  // re2 on the container name
  std::optional<Pattern> workloads;    // re2 on the Deployment/StatefulSet name; unset = any
  std::vector<Pattern> lock_patterns;  // re2 on the names of locks it holds
  bool leader_election = true;         // false: never elects (kube-apiserver, prometheus ...)
  bool leader_elect_default = true;    // election on when no --leader-elect* flag says otherwise
  std::string lock_name;               // default lock name; empty = not known in advance
  std::string lock_namespace;          // default lock namespace; "$namespace" = the audited one
  std::vector<std::string> lock_name_flags;       // override Rules::lock_name_flags when set
  std::vector<std::string> lock_namespace_flags;  // override Rules::lock_namespace_flags
  // Flags whose kubeconfig builds the leader-election client, first present wins; none present
  // means in-cluster (the seed). Multi-cluster binaries name exactly one (MCM: control).
  std::vector<std::string> kubeconfig_flags;
  std::optional<ConfigFileRule> config;    // used instead of the flags when its flag is present
  Location expected = Location::kUnknown;  // where the research found the lock
  std::string advice;                      // what to do when it blocks a live migration
};

// The whole rule set. Plain data; copy freely.
struct Rules {
  Pattern namespace_pattern;  // shoot control-plane namespaces, full match
  // Secrets whose projection makes a kubeconfig point at the shoot (generic token kubeconfig).
  std::vector<Pattern> shoot_kubeconfig_secrets;
  // Kubeconfig path prefixes known to be the shoot when no volume explains them.
  std::vector<std::string> shoot_kubeconfig_paths;
  std::vector<std::string> in_cluster_values;   // kubeconfig values meaning "in-cluster"
  std::vector<std::string> leader_elect_flags;  // boolean flags switching election on/off
  std::vector<std::string> lock_name_flags;
  std::vector<std::string> lock_namespace_flags;
  std::vector<NotLockRule> not_locks;
  std::vector<ComponentRule> components;  // first match wins

  // Returns the first component whose patterns match, or nullptr.
  const ComponentRule* MatchContainer(std::string_view workload, std::string_view container) const;
  // Returns the first component holding a lock named `lock_name`, or nullptr.
  const ComponentRule* MatchLock(std::string_view lock_name) const;
  // Returns the component called `name`, or nullptr.
  const ComponentRule* Find(std::string_view name) const;
};

// The built-in rules as YAML (also what `seedhop-auditor rules` would print).
std::string_view DefaultRulesYaml();

// Returns the built-in rules. REQUIRES: the embedded YAML is valid (a test holds it to that).
Rules DefaultRules();

// Parses a rules file and layers it over `base`: top-level scalars and lists replace, components
// and notLocks with a known name replace that entry, new ones go first (they win the match).
// `replaceDefaults: true` starts from empty rules instead. Errors name the offending field,
// e.g. "rules: components[2].containers: invalid re2 pattern ...".
Result<Rules> ParseRules(std::string_view yaml, const Rules& base);

// Reads and parses the file at `path` over the defaults.
Result<Rules> LoadRulesFile(const std::string& path);

}  // namespace seedhop::auditor
