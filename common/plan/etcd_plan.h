// The seed-local etcd plan (our CRD `EtcdPlan`, seedhop.io/v1alpha1): written by the local
// migrator, enforced by the local webhook. One EtcdPlan per etcd StatefulSet, with the
// StatefulSet's own name and namespace.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::plan {

inline constexpr char kGroup[] = "seedhop.io";
inline constexpr char kVersion[] = "v1alpha1";
inline constexpr char kApiVersion[] = "seedhop.io/v1alpha1";
inline constexpr char kKind[] = "EtcdPlan";
inline constexpr char kResource[] = "etcdplans";

// A member that runs on the other seed and how this seed's pods reach its peer port.
struct RemoteMember {
  int32_t ordinal = 0;
  std::string address;  // IPv4 or IPv6 literal

  bool operator==(const RemoteMember&) const = default;
};

// What the webhook enforces on one etcd StatefulSet.
struct EtcdPlan {
  std::string namespace_name;
  std::string statefulset;  // == metadata.name of the EtcdPlan
  int32_t replicas = 0;
  int32_t ordinals_start = 0;
  std::vector<RemoteMember> remote_members;  // sorted by ordinal, ordinals unique

  bool operator==(const EtcdPlan&) const = default;
};

// Parses an EtcdPlan object (as JSON from the API). Errors name the namespace/name and field.
// Sorts remote members by ordinal; rejects negative numbers, duplicate ordinals, bad addresses.
Result<EtcdPlan> ParseEtcdPlan(const nlohmann::json& object);

// Returns the EtcdPlan object (apiVersion, kind, metadata, spec) for `plan`.
nlohmann::json ToObject(const EtcdPlan& plan);

}  // namespace seedhop::plan
