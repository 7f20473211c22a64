// Test helpers for webhook tests: reading the reference material in ../shared, converting YAML
// manifests to JSON, wrapping objects into AdmissionReviews, and kube-apiserver's response checks.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/plan/etcd_plan.h"
#include "webhook/admission_review.h"
#include "webhook/etcd_policy.h"

namespace seedhop::webhook::testing {

// Returns the contents of `relative` under the shared reference directory. Fails the test (and
// returns "") when it cannot be read.
std::string ReadShared(const std::string& relative);

// Parses a JSON file under the shared reference directory.
nlohmann::json SharedJson(const std::string& relative);

// Reads the first YAML document of a file under the shared reference directory as JSON (plain
// scalars become null/bool/int/float where they parse as such, quoted scalars stay strings).
nlohmann::json SharedYamlAsJson(const std::string& relative);

// Returns the reference UPDATE review (etcd-sts-update.request.json) with request.object,
// namespace, name and operation replaced by `object`'s and `operation`; oldObject = object.
nlohmann::json ReviewFor(const nlohmann::json& object, const std::string& operation = "UPDATE");

// Decodes `review` (which must decode) into a request, as the handler does (kEtcdObjectFilter).
AdmissionRequest MustDecode(const nlohmann::json& review);

// Returns `object` with `decision`'s patch applied by nlohmann::json::patch (throws when a
// patch operation does not apply, like kube-apiserver failing the request).
nlohmann::json Apply(const nlohmann::json& object, const EtcdDecision& decision);

// Checks a mutating-webhook AdmissionReview response the way kube-apiserver does
// (k8s.io/apiserver pkg/admission/plugin/webhook/request/admissionreview.go
// VerifyAdmissionResponse), plus what the mutating dispatcher needs to apply a patch. Returns ""
// when acceptable, else why not.
std::string VerifyAdmissionResponse(const nlohmann::json& review, const std::string& uid,
                                    const std::string& api_version);

// Decodes standard base64 with OpenSSL (an independent implementation to check ours against).
std::string Base64DecodeOpenSsl(const std::string& text);

// A plan for `namespace_name`/`statefulset` with remote members (ordinal, address).
plan::EtcdPlan MakePlan(const std::string& namespace_name, const std::string& statefulset,
                        int32_t replicas, int32_t ordinals_start,
                        std::vector<plan::RemoteMember> remote_members);

}  // namespace seedhop::webhook::testing
