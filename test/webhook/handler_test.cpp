#include "webhook/handler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "test/support/exposition.h"
#include "test/webhook/fixtures.h"

namespace seedhop::webhook {
namespace {

using nlohmann::json;
using testing::Base64DecodeOpenSsl;
using testing::MakePlan;
using testing::ReadShared;
using testing::VerifyAdmissionResponse;

constexpr char kNs[] = "shoot--garden--local";

http::Request Post(std::string body, std::string content_type = "application/json") {
  http::Request request;
  request.method = "POST";
  request.target = "/mutate?timeout=10s";
  request.path = "/mutate";
  request.query = "timeout=10s";
  if (!content_type.empty())
    request.headers["content-type"] = std::move(content_type);
  request.body = std::move(body);
  return request;
}

std::string Reference(const std::string& file) {
  return ReadShared("reference/admission/" + file);
}

class HandlerTest : public ::testing::Test {
 protected:
  PlanLookup Lookup() {
    return [this](const std::string& ns, const std::string& name) -> std::optional<plan::EtcdPlan> {
      ++lookups_;
      last_key_ = ns + "/" + name;
      if (ns == kNs && name == "etcd-main") {
        return MakePlan(kNs, "etcd-main", 3, 3, {{0, "10.0.0.10"}, {1, "10.0.0.11"}});
      }
      return std::nullopt;
    };
  }
  // The value of one sample line in the exposition, or -1 when absent.
  double Sample(const std::string& series) {
    return seedhop::testing::SampleValue(registry_.Serialize(), series).value_or(-1);
  }

  obs::Metrics registry_;
  WebhookMetrics metrics_{registry_};
  std::atomic<int> lookups_{0};
  std::string last_key_;
};

TEST_F(HandlerTest, PatchesAReferenceCreate) {
  http::Response response =
      HandleMutate(Post(Reference("etcd-sts-create.request.json")), Lookup(), &metrics_);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.headers["content-type"], "application/json");
  EXPECT_EQ(last_key_, std::string(kNs) + "/etcd-main");
  json review = json::parse(response.body);
  EXPECT_EQ(VerifyAdmissionResponse(review, "0f9d3c1e-8a7b-4e6d-9c5b-1a2b3c4d5e6f",
                                    "admission.k8s.io/v1"),
            "");
  json patch = json::parse(Base64DecodeOpenSsl(review["response"]["patch"]));
  json object = json::parse(Reference("etcd-sts-create.request.json"))["request"]["object"];
  json patched = object.patch(patch);
  EXPECT_EQ(patched["spec"]["ordinals"]["start"], 3);
  EXPECT_EQ(patched["spec"]["template"]["spec"]["hostAliases"].size(), 3u);
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="CREATE",result="patched"})"), 1);
  EXPECT_EQ(Sample(R"(seedhop_webhook_patches_total{field="hostAliases"})"), 1);
  EXPECT_EQ(Sample(R"(seedhop_webhook_patches_total{field="ordinals"})"), 1);
  EXPECT_EQ(Sample(R"(seedhop_webhook_patches_total{field="replicas"})"), 0);
  EXPECT_EQ(Sample("seedhop_webhook_request_duration_seconds_count"), 1);
}

TEST_F(HandlerTest, EveryReferenceRequestGetsAValidAnswer) {
  for (const char* file :
       {"etcd-sts-create.request.json", "etcd-sts-update.request.json",
        "etcd-sts-update-dryrun.request.json", "etcd-sts-scale-subresource-update.request.json",
        "etcd-sts-delete.request.json", "k8s-docs-scale-subresource-update.request.json",
        "k8s-docs-scale-subresource-update.v1beta1.request.json"}) {
    std::string body = Reference(file);
    json request = json::parse(body);
    http::Response response = HandleMutate(Post(body), Lookup(), &metrics_);
    ASSERT_EQ(response.status, 200) << file << ": " << response.body;
    json review = json::parse(response.body);
    EXPECT_EQ(VerifyAdmissionResponse(review, request["request"]["uid"], request["apiVersion"]), "")
        << file;
    EXPECT_EQ(review["response"]["uid"], request["request"]["uid"]) << file;
    EXPECT_TRUE(review["response"]["allowed"].get<bool>()) << file;
  }
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="DELETE",result="skipped"})"), 1);
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="UPDATE",result="patched"})"), 3);
}

TEST_F(HandlerTest, DeleteNeverCarriesAPatchNorAsksForAPlan) {
  http::Response response =
      HandleMutate(Post(Reference("etcd-sts-delete.request.json")), Lookup(), &metrics_);
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(json::parse(response.body)["response"].contains("patch"));
  EXPECT_EQ(lookups_, 0);
}

TEST_F(HandlerTest, NoPlanMeansAllowedUntouched) {
  json review = json::parse(Reference("etcd-sts-update.request.json"));
  review["request"]["namespace"] = "shoot--other--one";
  review["request"]["object"]["metadata"]["namespace"] = "shoot--other--one";
  http::Response response = HandleMutate(Post(review.dump()), Lookup(), &metrics_);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["response"],
            (json{{"uid", review["request"]["uid"]}, {"allowed", true}}));
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="UPDATE",result="skipped"})"), 1);
}

TEST_F(HandlerTest, AnswersV1beta1InV1beta1) {
  http::Response response = HandleMutate(
      Post(Reference("k8s-docs-scale-subresource-update.v1beta1.request.json")), Lookup(), nullptr);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["apiVersion"], "admission.k8s.io/v1beta1");
}

TEST_F(HandlerTest, WrongMethodIs405) {
  http::Request request = Post(Reference("etcd-sts-create.request.json"));
  request.method = "GET";
  http::Response response = HandleMutate(request, Lookup(), &metrics_);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.headers["allow"], "POST");
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="unknown",result="bad_request"})"),
            1);
}

TEST_F(HandlerTest, ContentTypeMustBeJson) {
  std::string body = Reference("etcd-sts-create.request.json");
  EXPECT_EQ(HandleMutate(Post(body, "text/plain"), Lookup(), &metrics_).status, 400);
  EXPECT_EQ(HandleMutate(Post(body, ""), Lookup(), &metrics_).status, 400);
  EXPECT_EQ(HandleMutate(Post(body, "application/jsonx"), Lookup(), &metrics_).status, 400);
  EXPECT_EQ(HandleMutate(Post(body, "Application/JSON; charset=utf-8"), Lookup(), &metrics_).status,
            200);
}

TEST_F(HandlerTest, UndecodableBodiesAre400WithTheReason) {
  for (const auto& [body, reason] : std::vector<std::pair<std::string, std::string>>{
           {"", "request body is empty"},
           {"{", "not valid JSON"},
           {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", "no request"},
           {R"({"apiVersion":"v1","kind":"AdmissionReview","request":{}})",
            "unsupported apiVersion"},
       }) {
    http::Response response = HandleMutate(Post(body), Lookup(), &metrics_);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_NE(response.body.find(reason), std::string::npos) << response.body;
  }
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="unknown",result="bad_request"})"),
            4);
}

TEST_F(HandlerTest, MalformedObjectIsDeniedWith200) {
  json review = json::parse(Reference("etcd-sts-update.request.json"));
  review["request"]["object"]["spec"]["template"]["spec"]["hostAliases"] = "oops";
  http::Response response = HandleMutate(Post(review.dump()), Lookup(), &metrics_);
  ASSERT_EQ(response.status, 200);
  json answer = json::parse(response.body)["response"];
  EXPECT_FALSE(answer["allowed"].get<bool>());
  EXPECT_EQ(answer["status"]["code"], 400);
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="UPDATE",result="denied"})"), 1);
}

TEST_F(HandlerTest, FailingLookupIs500AndCounted) {
  PlanLookup broken = [](const std::string&, const std::string&) -> std::optional<plan::EtcdPlan> {
    throw std::runtime_error("secret-ish detail");
  };
  http::Response response =
      HandleMutate(Post(Reference("etcd-sts-update.request.json")), broken, &metrics_);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("secret-ish"), std::string::npos);
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="UPDATE",result="error"})"), 1);
}

TEST_F(HandlerTest, AllSeriesExistFromTheStart) {
  EXPECT_EQ(Sample(R"(seedhop_webhook_requests_total{operation="CONNECT",result="denied"})"), 0);
  EXPECT_EQ(Sample(R"(seedhop_webhook_patches_total{field="replicas"})"), 0);
}

}  // namespace
}  // namespace seedhop::webhook
