#include "test/webhook/fixtures.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>

#include "common/yaml/yaml_json.h"

namespace seedhop::webhook::testing {

using nlohmann::json;

std::string ReadShared(const std::string& relative) {
  std::string path = std::string(SEEDHOP_SHARED_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

json SharedJson(const std::string& relative) {
  return json::parse(ReadShared(relative));
}

json SharedYamlAsJson(const std::string& relative) {
  auto documents = yaml::ParseDocuments(ReadShared(relative), relative);
  EXPECT_TRUE(documents.ok() && !documents->empty()) << relative;
  return documents.ok() && !documents->empty() ? documents->front() : json();
}

json ReviewFor(const json& object, const std::string& operation) {
  json review = SharedJson("reference/admission/etcd-sts-update.request.json");
  review["request"]["object"] = object;
  review["request"]["oldObject"] = operation == "CREATE" ? json() : object;
  review["request"]["operation"] = operation;
  review["request"]["name"] = object["metadata"]["name"];
  review["request"]["namespace"] = object["metadata"]["namespace"];
  return review;
}

AdmissionRequest MustDecode(const json& review) {
  auto decoded = DecodeAdmissionReview(review.dump(), kEtcdObjectFilter);
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message());
  return decoded.ok() ? *decoded : AdmissionRequest{};
}

json Apply(const json& object, const EtcdDecision& decision) {
  return object.patch(json::parse(decision.patch.text()));
}

std::string VerifyAdmissionResponse(const json& review, const std::string& uid,
                                    const std::string& api_version) {
  if (!review.is_object())
    return "not an object";
  auto response = review.find("response");
  if (response == review.end() || !response->is_object())
    return "webhook response was absent";
  if (review.value("apiVersion", "") != api_version ||
      review.value("kind", "") != "AdmissionReview") {
    return "expected webhook response of " + api_version + ", Kind=AdmissionReview";
  }
  // v1beta1 answers are not checked for uid (VerifyAdmissionResponse only checks v1's).
  if (api_version == "admission.k8s.io/v1" && response->value("uid", "") != uid) {
    return "expected response.uid=" + uid;
  }
  if (!response->contains("allowed") || !(*response)["allowed"].is_boolean()) {
    return "response.allowed missing";
  }
  bool has_patch = response->contains("patch");
  bool has_type = response->contains("patchType");
  if (has_patch && !has_type)
    return "webhook returned response.patch but not response.patchType";
  if (has_type && !has_patch)
    return "webhook returned response.patchType but not response.patch";
  if (has_type && (*response)["patchType"] != "JSONPatch")
    return "unsupported patchType";
  if (has_patch) {
    if (!(*response)["patch"].is_string())
      return "patch is not a base64 string";
    json operations = json::parse(Base64DecodeOpenSsl((*response)["patch"]), nullptr, false);
    if (operations.is_discarded() || !operations.is_array())
      return "patch is not a JSON array";
  }
  return "";
}

std::string Base64DecodeOpenSsl(const std::string& text) {
  if (text.empty())
    return "";
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                               reinterpret_cast<const unsigned char*>(text.data()),
                               static_cast<int>(text.size()));
  EXPECT_GE(length, 0) << "invalid base64";
  if (length < 0)
    return "";
  // EVP_DecodeBlock counts padding bytes as output; drop them.
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i)
    ++padding;
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

plan::EtcdPlan MakePlan(const std::string& namespace_name, const std::string& statefulset,
                        int32_t replicas, int32_t ordinals_start,
                        std::vector<plan::RemoteMember> remote_members) {
  plan::EtcdPlan plan;
  plan.namespace_name = namespace_name;
  plan.statefulset = statefulset;
  plan.replicas = replicas;
  plan.ordinals_start = ordinals_start;
  plan.remote_members = std::move(remote_members);
  return plan;
}

}  // namespace seedhop::webhook::testing
