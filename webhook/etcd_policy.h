// The etcd mutation policy: what seedhop-webhook does to an etcd StatefulSet (or its /scale)
// while a seed-local EtcdPlan exists for it. A pure function of the request and the plan; it
// performs no I/O and reads no clock, so the same input always yields the same patch.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/kube/json_patch.h"
#include "common/plan/etcd_plan.h"
#include "webhook/admission_review.h"

namespace seedhop::webhook {

// StatefulSet labels that mark an etcd-druid StatefulSet. Current druid: managed-by + component
// (keys: gardener/etcd-druid api/core/v1alpha1 LabelManagedByKey/LabelComponentKey; the value
// "etcd-statefulset": internal/common/constants.go ComponentNameStatefulSet; shape:
// shared/reference/gardener/etcd-main-sts.druid.synth.yaml). Legacy (older druid, the hackathon's
// ../shared/seed/examples/sts-etcd.yaml): app=etcd-statefulset (gardener/gardener
// pkg/component/etcd/etcd/etcd.go LabelAppValue).
inline constexpr char kLabelManagedBy[] = "app.kubernetes.io/managed-by";
inline constexpr char kLabelManagedByValue[] = "etcd-druid";
inline constexpr char kLabelComponent[] = "app.kubernetes.io/component";
inline constexpr char kLabelComponentValue[] = "etcd-statefulset";
inline constexpr char kLegacyLabelApp[] = "app";
inline constexpr char kLegacyLabelAppValue[] = "etcd-statefulset";

// The parts of request.object DecideEtcdMutation reads: metadata.name and the labels above,
// spec.replicas, spec.ordinals and spec.template.spec.hostAliases (of a Scale: spec.replicas).
// Decoding only these (DecodeAdmissionReview) yields the same decisions as decoding it all.
extern const JsonFilter kEtcdObjectFilter;

// True when `object.metadata.labels` carries the current or the legacy etcd-druid labels.
bool IsEtcdStatefulSet(const nlohmann::json& object);

// One pod-template hostAliases entry.
struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;

  bool operator==(const HostAlias&) const = default;
};

// The aliases the plan asks for: one per remote member, by ordinal, each naming
// "<sts>-<i>.<sts>-peer.<ns>.svc" then "<sts>-<i>.<sts>-peer.<ns>.svc.cluster.local".
// Negative and repeated ordinals (which ParseEtcdPlan never yields) are dropped, the first wins.
std::vector<HostAlias> PeerHostAliases(const plan::EtcdPlan& plan);

// Returns the ordinal i when `hostname` is one of the peer names above for StatefulSet `sts` in
// namespace `ns` (any ordinal, not only planned ones); nullopt otherwise.
std::optional<int32_t> PeerHostnameOrdinal(std::string_view hostname, std::string_view sts,
                                           std::string_view ns);

enum class Outcome {
  kPatched,    // allowed with a non-empty patch
  kUnchanged,  // the plan applies and the object already satisfies it
  kSkipped,    // the plan does not apply to this request; allowed untouched
  kDenied,     // the object cannot be read as what it claims to be
};

// Returns "patched", "unchanged", "skipped" or "denied" (a metrics label value).
const char* OutcomeName(Outcome outcome);

// Fields a patch can touch, in the order their operations appear in it.
enum class PatchedField { kReplicas, kOrdinals, kHostAliases };

// Returns "replicas", "ordinals" or "hostAliases" (a metrics label value).
const char* PatchedFieldName(PatchedField field);

struct EtcdDecision {
  Outcome outcome = Outcome::kSkipped;
  // Skipped: a stable word saying why ("operation", "no_plan", "not_statefulset", "subresource",
  // "plan_mismatch", "not_etcd", "hibernated", "scale_to_zero"). Denied: the message for the
  // client.
  std::string reason;
  kube::JsonPatch patch;                     // empty unless kPatched
  std::vector<PatchedField> patched_fields;  // which fields `patch` changes
  std::vector<std::string> warnings;         // shown to the client (kubectl prints them)
};

// Decides what to do with `request`, given the EtcdPlan stored under the request's namespace and
// name (`plan` null when there is none; a plan with another or an empty name is not applied).
// Skips DELETE and CONNECT, requests without a plan, objects other than etcd StatefulSets and
// their /scale, and hibernation (spec.replicas 0, or a /scale to 0). Otherwise patches, against the
// object exactly as sent, spec.replicas and spec.ordinals.start to the plan's values and makes the
// pod template's hostAliases hold exactly one correct entry per remote member, appended by ordinal
// after every entry that names none of this StatefulSet's peer hostnames. Entries that name those
// hostnames but are wrong (stale IP, other order) are fixed in place, duplicates and members no
// longer remote are dropped, foreign hostnames sharing such an entry are kept. Applying the patch
// and deciding again yields kUnchanged. dryRun does not change the answer.
EtcdDecision DecideEtcdMutation(const AdmissionRequest& request, const plan::EtcdPlan* plan);

// Turns `decision` into the answer to `request`: denied with code 400, or allowed with the patch
// and warnings. Pass the decision with std::move when done with it: its patch and warnings are
// then moved into the answer instead of copied.
AdmissionResponse ToAdmissionResponse(const AdmissionRequest& request, EtcdDecision decision);

}  // namespace seedhop::webhook
