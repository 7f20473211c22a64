#include "test/emulator/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/encoding/base64.h"
#include "common/http/server.h"
#include "test/emulator/api_server.h"
#include "test/support/certs.h"

namespace seedhop::emulator {
namespace {

using nlohmann::json;

const char kToken[] = "admission-token";
const char kConfigurations[] =
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
const char kStatefulSets[] = "/apis/apps/v1/namespaces/shoot--a--b/statefulsets";

// An HTTPS webhook whose answers each test scripts; it records every request it gets.
class FakeWebhook {
 public:
  using Answer = std::function<json(const std::string& path, const json& review)>;

  FakeWebhook() {
    ca_ = testing::MakeCa("webhook-ca");
    testing::CertPair leaf = testing::MakeLeaf(ca_, "webhook", {"127.0.0.1", "localhost"});
    dir_ = std::filesystem::temp_directory_path() /
           ("seedhop-webhook-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    EXPECT_TRUE(testing::WriteFile(dir_ / "tls.crt", leaf.cert_pem).ok());
    EXPECT_TRUE(testing::WriteFile(dir_ / "tls.key", leaf.key_pem).ok());
    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.cert_file = dir_ / "tls.crt";
    options.key_file = dir_ / "tls.key";
    options.blocking_handlers = true;
    options.threads = 4;
    server_ = std::make_unique<http::Server>(options, nullptr, nullptr);
    server_->RoutePrefix("/", [this](const http::Request& request) {
      json review = json::parse(request.body, nullptr, false);
      Answer answer;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        answer = answer_;
      }
      json reply = answer(request.path, review);
      if (reply.is_number())
        return http::Response::Text(reply.get<int>(), "broken");
      return http::Response::Json(200, reply.dump());
    });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeWebhook() {
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  void Answer_(Answer answer) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(answer);
  }
  std::string Url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  std::string CaBundle() const { return encoding::Base64Encode(ca_.cert_pem); }
  std::vector<http::Request> Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t CallsTo(const std::string& path) const {
    size_t count = 0;
    for (const auto& request : Requests())
      count += request.path == path;
    return count;
  }

 private:
  static inline std::atomic<int> counter_{0};
  testing::CertPair ca_;
  std::filesystem::path dir_;
  std::unique_ptr<http::Server> server_;
  mutable std::mutex mutex_;
  std::vector<http::Request> requests_;
  Answer answer_ = [](const std::string&, const json& review) { return Allow(review); };

 public:
  static json Allow(const json& review, const json& patch = nullptr) {
    json response = {{"uid", review["request"]["uid"]}, {"allowed", true}};
    if (!patch.is_null()) {
      response["patchType"] = "JSONPatch";
      response["patch"] = encoding::Base64Encode(patch.dump());
    }
    return {
        {"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", response}};
  }
};

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest() {
    ApiServerOptions options;
    options.token = kToken;
    api_ = std::make_unique<ApiServer>(options);
    Send("POST", "/api/v1/namespaces",
         {{"metadata", {{"name", "shoot--a--b"}, {"labels", {{"migrating", "true"}}}}}}, 201);
    Send("POST", "/api/v1/namespaces", {{"metadata", {{"name", "garden"}}}}, 201);
  }

  http::Response Call(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& content_type = "application/json") {
    http::Request request;
    request.method = method;
    request.target = target;
    size_t question = target.find('?');
    request.path = target.substr(0, question);
    request.query = question == std::string::npos ? "" : target.substr(question + 1);
    request.headers["authorization"] = std::string("Bearer ") + kToken;
    request.headers["content-type"] = content_type;
    request.body = body;
    return api_->Handle(request);
  }
  json Send(const std::string& method, const std::string& target, const json& body, int expected,
            const std::string& content_type = "application/json") {
    http::Response response = Call(method, target, body.dump(), content_type);
    EXPECT_EQ(response.status, expected) << method << " " << target << ": " << response.body;
    return json::parse(response.body, nullptr, false);
  }
  json Webhook(const std::string& name, const std::string& path, json overrides = json::object()) {
    json webhook = {
        {"name", name},
        {"clientConfig", {{"url", webhook_.Url(path)}, {"caBundle", webhook_.CaBundle()}}},
        {"rules",
         {{{"operations", {"CREATE", "UPDATE"}},
           {"apiGroups", {"apps"}},
           {"apiVersions", {"v1"}},
           {"resources", {"statefulsets", "statefulsets/scale"}}}}},
        {"failurePolicy", "Fail"},
        {"sideEffects", "None"},
        {"admissionReviewVersions", {"v1"}},
        {"timeoutSeconds", 2}};
    webhook.merge_patch(overrides);
    return webhook;
  }
  void Register(const std::string& configuration, std::vector<json> webhooks) {
    Send("POST", kConfigurations,
         {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "MutatingWebhookConfiguration"},
          {"metadata", {{"name", configuration}}},
          {"webhooks", webhooks}},
         201);
  }
  static json StatefulSet(const std::string& name, int replicas = 3) {
    json aliases =
        json::array({json{{"ip", "127.0.0.1"}, {"hostnames", json::array({name + "-local"})}}});
    json spec = {{"replicas", replicas},
                 {"selector", {{"matchLabels", {{"app", "etcd"}}}}},
                 {"template", {{"spec", {{"hostAliases", aliases}}}}}};
    return {{"apiVersion", "apps/v1"},
            {"kind", "StatefulSet"},
            {"metadata", {{"name", name}, {"labels", {{"app", "etcd"}}}}},
            {"spec", spec}};
  }
  static json Reviews(const std::vector<http::Request>& requests) {
    json reviews = json::array();
    for (const auto& request : requests)
      reviews.push_back(json::parse(request.body));
    return reviews;
  }

  FakeWebhook webhook_;
  std::unique_ptr<ApiServer> api_;
};

const json kAddAlias = json::array({{{"op", "add"},
                                     {"path", "/spec/template/spec/hostAliases/-"},
                                     {"value", {{"ip", "10.0.0.1"}, {"hostnames", {"peer"}}}}}});

TEST_F(AdmissionTest, AppliesPatchesAndSendsFaithfulReviews) {
  Register("etcd-hostaliases", {Webhook("etcd.seedhop.io", "/mutate")});
  webhook_.Answer_(
      [](const std::string&, const json& review) { return FakeWebhook::Allow(review, kAddAlias); });
  json created = Send("POST", kStatefulSets, StatefulSet("etcd-main"), 201);
  auto aliases = created["spec"]["template"]["spec"]["hostAliases"];
  ASSERT_EQ(aliases.size(), 2u);
  EXPECT_EQ(aliases[0]["hostnames"][0], "etcd-main-local");
  EXPECT_EQ(aliases[1]["ip"], "10.0.0.1");

  created["spec"]["replicas"] = 5;
  Send("PUT", std::string(kStatefulSets) + "/etcd-main", created, 200);

  auto requests = webhook_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/mutate");
  EXPECT_EQ(requests[0].query, "timeout=2s");
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  json reviews = Reviews(requests);
  const json& create = reviews[0]["request"];
  EXPECT_EQ(reviews[0]["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(create["operation"], "CREATE");
  EXPECT_EQ(create["kind"], json({{"group", "apps"}, {"version", "v1"}, {"kind", "StatefulSet"}}));
  EXPECT_EQ(create["resource"],
            json({{"group", "apps"}, {"version", "v1"}, {"resource", "statefulsets"}}));
  EXPECT_EQ(create["requestKind"], create["kind"]);
  EXPECT_EQ(create["namespace"], "shoot--a--b");
  EXPECT_EQ(create["name"], "etcd-main");
  EXPECT_EQ(create["dryRun"], false);
  EXPECT_TRUE(create.contains("oldObject") && create["oldObject"].is_null());
  EXPECT_FALSE(create.contains("subResource"));
  const json& update = reviews[1]["request"];
  EXPECT_EQ(update["operation"], "UPDATE");
  EXPECT_EQ(update["oldObject"]["spec"]["replicas"], 3);
  EXPECT_EQ(update["object"]["spec"]["replicas"], 5);
  EXPECT_NE(update["uid"], create["uid"]);
  EXPECT_EQ(update["uid"].get<std::string>().size(), 36u);
}

TEST_F(AdmissionTest, DenialCarriesTheWebhookStatus) {
  Register("etcd-hostaliases", {Webhook("etcd.seedhop.io", "/mutate")});
  webhook_.Answer_([](const std::string&, const json& review) {
    json reply = FakeWebhook::Allow(review);
    reply["response"]["allowed"] = false;
    reply["response"]["status"] = {
        {"message", "plan missing"}, {"code", 403}, {"reason", "Forbidden"}};
    return reply;
  });
  http::Response denied = Call("POST", kStatefulSets, StatefulSet("etcd-main").dump());
  EXPECT_EQ(denied.status, 403);
  json status = json::parse(denied.body);
  EXPECT_EQ(status["message"],
            "admission webhook \"etcd.seedhop.io\" denied the request: plan missing");
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_EQ(Call("GET", std::string(kStatefulSets) + "/etcd-main", "").status, 404);

  webhook_.Answer_([](const std::string&, const json& review) {
    json reply = FakeWebhook::Allow(review);
    reply["response"]["allowed"] = false;
    return reply;
  });
  http::Response bare = Call("POST", kStatefulSets, StatefulSet("etcd-main").dump());
  EXPECT_EQ(bare.status, 400);
  EXPECT_EQ(json::parse(bare.body)["message"],
            "admission webhook \"etcd.seedhop.io\" denied the request without explanation");
}

TEST_F(AdmissionTest, InvalidResponsesFollowFailurePolicy) {
  // The kube-apiserver-rejected answers collected from upstream (reference/admission).
  std::ifstream file(std::string(SEEDHOP_SHARED_DIR) +
                     "/reference/admission/invalid-responses.json");
  ASSERT_TRUE(file.good()) << "reference file missing";
  json cases = json::parse(file);
  const std::map<std::string, std::string> expected = {
      {"missing-uid", "expected response.uid="},
      {"wrong-gvk",
       "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
       "admission.k8s.io/v1beta1, Kind=AdmissionReview"},
      {"patch-without-patchType", "webhook returned response.patch but not response.patchType"},
      {"patchType-without-patch", "webhook returned response.patchType but not response.patch"},
      {"missing-response", "webhook response was absent"}};
  ASSERT_EQ(cases.size(), expected.size());
  Register("a-fail", {Webhook("fail.seedhop.io", "/fail")});
  Register("b-ignore", {Webhook("ignore.seedhop.io", "/ignore",
                                {{"failurePolicy", "Ignore"},
                                 {"rules",
                                  {{{"operations", {"UPDATE"}},
                                    {"apiGroups", {"apps"}},
                                    {"apiVersions", {"v1"}},
                                    {"resources", {"statefulsets"}}}}}})});
  int index = 0;
  for (const auto& [name, reply] : cases.items()) {
    SCOPED_TRACE(name);
    webhook_.Answer_([&, reply = reply](const std::string& path, const json& review) {
      if (path == "/fail" && review["request"]["operation"] == "UPDATE") {
        return FakeWebhook::Allow(review);
      }
      json answer = reply;
      // Keep the uid right where the case has one, so each case trips its own check.
      if (answer.contains("response") && answer["response"].contains("uid")) {
        answer["response"]["uid"] = review["request"]["uid"];
      }
      return answer;
    });
    std::string sts = "etcd-" + std::to_string(index++);
    http::Response failed = Call("POST", kStatefulSets, StatefulSet(sts).dump());
    EXPECT_EQ(failed.status, 500);
    json status = json::parse(failed.body);
    EXPECT_EQ(status["reason"], "InternalError");
    std::string message = status["message"];
    EXPECT_EQ(message.rfind("Internal error occurred: failed calling webhook \"fail.seedhop.io\": "
                            "received invalid webhook response: ",
                            0),
              0u)
        << message;
    EXPECT_NE(message.find(expected.at(name)), std::string::npos) << message;

    // Under Ignore the same answer is skipped and the write goes through unmodified.
    webhook_.Answer_([reply = reply](const std::string& path, const json& review) {
      if (path == "/fail")
        return FakeWebhook::Allow(review);
      json answer = reply;
      if (answer.contains("response") && answer["response"].contains("uid")) {
        answer["response"]["uid"] = review["request"]["uid"];
      }
      return answer;
    });
    json created = Send("POST", kStatefulSets, StatefulSet(sts), 201);
    created["spec"]["replicas"] = 4;
    json updated = Send("PUT", std::string(kStatefulSets) + "/" + sts, created, 200);
    EXPECT_EQ(updated["spec"]["replicas"], 4);
  }
}

TEST_F(AdmissionTest, PatchThatDoesNotApplyFailsEvenUnderIgnore) {
  Register("etcd-hostaliases",
           {Webhook("etcd.seedhop.io", "/mutate", {{"failurePolicy", "Ignore"}})});
  webhook_.Answer_([](const std::string&, const json& review) {
    return FakeWebhook::Allow(
        review, json::array({{{"op", "replace"}, {"path", "/spec/ordinals/start"}, {"value", 3}}}));
  });
  http::Response response = Call("POST", kStatefulSets, StatefulSet("etcd-main").dump());
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(json::parse(response.body)["reason"], "InternalError");
  EXPECT_EQ(Call("GET", std::string(kStatefulSets) + "/etcd-main", "").status, 404);

  webhook_.Answer_([](const std::string&, const json& review) {
    json reply = FakeWebhook::Allow(review);
    reply["response"]["patchType"] = "JSONPatch";
    reply["response"]["patch"] = encoding::Base64Encode("{not a patch");
    return reply;
  });
  // An undecodable patch is a calling error: Ignore skips it.
  Send("POST", kStatefulSets, StatefulSet("etcd-main"), 201);
}

TEST_F(AdmissionTest, TransportFailuresFollowFailurePolicy) {
  json unreachable = Webhook("down.seedhop.io", "/x");
  unreachable["clientConfig"]["url"] = "https://127.0.0.1:1/mutate";
  Register("a-down", {unreachable});
  http::Response down = Call("POST", kStatefulSets, StatefulSet("etcd-0").dump());
  EXPECT_EQ(down.status, 500);
  EXPECT_NE(json::parse(down.body)["message"].get<std::string>().find(
                "failed calling webhook \"down.seedhop.io\": failed to call webhook: Post "
                "\"https://127.0.0.1:1/mutate?timeout=2s\""),
            std::string::npos)
      << down.body;
  Send("DELETE", std::string(kConfigurations) + "/a-down", nullptr, 200);

  json wrong_ca = Webhook("wrong-ca.seedhop.io", "/mutate");
  wrong_ca["clientConfig"]["caBundle"] = encoding::Base64Encode(testing::MakeCa("other").cert_pem);
  Register("b-wrong-ca", {wrong_ca});
  EXPECT_EQ(Call("POST", kStatefulSets, StatefulSet("etcd-1").dump()).status, 500);
  EXPECT_EQ(webhook_.CallsTo("/mutate"), 0u);  // the TLS handshake failed before any request
  Send("DELETE", std::string(kConfigurations) + "/b-wrong-ca", nullptr, 200);

  Register("c-broken", {Webhook("broken.seedhop.io", "/broken")});
  webhook_.Answer_([](const std::string&, const json&) { return json(503); });
  EXPECT_EQ(Call("POST", kStatefulSets, StatefulSet("etcd-2").dump()).status, 500);
  Send("DELETE", std::string(kConfigurations) + "/c-broken", nullptr, 200);

  Register("d-slow", {Webhook("slow.seedhop.io", "/slow", {{"timeoutSeconds", 1}})});
  webhook_.Answer_([](const std::string&, const json& review) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return FakeWebhook::Allow(review);
  });
  EXPECT_EQ(Call("POST", kStatefulSets, StatefulSet("etcd-3").dump()).status, 500);
  Send("DELETE", std::string(kConfigurations) + "/d-slow", nullptr, 200);

  json ignored = unreachable;
  ignored["failurePolicy"] = "Ignore";
  Register("e-ignored", {ignored});
  Send("POST", kStatefulSets, StatefulSet("etcd-4"), 201);
}

TEST_F(AdmissionTest, SelectorsAndRulesDecideWhoIsCalled) {
  Register(
      "etcd-hostaliases",
      {Webhook("etcd.seedhop.io", "/mutate",
               {{"namespaceSelector", {{"matchLabels", {{"migrating", "true"}}}}},
                {"objectSelector",
                 {{"matchExpressions", {{{"key", "skip"}, {"operator", "DoesNotExist"}}}}}}})});
  Send("POST", "/apis/apps/v1/namespaces/garden/statefulsets", StatefulSet("etcd-main"), 201);
  EXPECT_EQ(webhook_.Requests().size(), 0u);  // namespace not labelled
  json skipped = StatefulSet("etcd-skip");
  skipped["metadata"]["labels"]["skip"] = "true";
  Send("POST", kStatefulSets, skipped, 201);
  EXPECT_EQ(webhook_.Requests().size(), 0u);  // object opted out
  Send("POST", "/api/v1/namespaces/shoot--a--b/configmaps", {{"metadata", {{"name", "cm"}}}}, 201);
  EXPECT_EQ(webhook_.Requests().size(), 0u);  // rule does not cover configmaps
  Send("POST", kStatefulSets, StatefulSet("etcd-main"), 201);
  EXPECT_EQ(webhook_.Requests().size(), 1u);
}

TEST_F(AdmissionTest, OrderByConfigurationNameAndReinvocation) {
  // Each webhook appends its name to an annotation once; "a" asks to be reinvoked.
  auto append = [](const std::string& who) {
    return [who](const json& review) {
      const json& meta = review["request"]["object"]["metadata"];
      std::string order =
          meta.contains("annotations") ? meta["annotations"].value("order", "") : "";
      if (order.find(who) != std::string::npos)
        return FakeWebhook::Allow(review);
      json patch = json::array();
      if (!meta.contains("annotations")) {
        patch.push_back(
            {{"op", "add"}, {"path", "/metadata/annotations"}, {"value", json::object()}});
      }
      patch.push_back({{"op", "add"},
                       {"path", "/metadata/annotations/order"},
                       {"value", order.empty() ? who : order + "," + who}});
      return FakeWebhook::Allow(review, patch);
    };
  };
  webhook_.Answer_(
      [&](const std::string& path, const json& review) { return append(path.substr(1))(review); });
  Register("b-second", {Webhook("b.seedhop.io", "/b")});
  Register("a-first", {Webhook("a.seedhop.io", "/a", {{"reinvocationPolicy", "IfNeeded"}}),
                       Webhook("c.seedhop.io", "/c")});
  json created = Send("POST", kStatefulSets, StatefulSet("etcd-main"), 201);
  EXPECT_EQ(created["metadata"]["annotations"]["order"], "a,c,b");
  EXPECT_EQ(webhook_.CallsTo("/a"), 2u);  // reinvoked: c and b changed the object after it
  EXPECT_EQ(webhook_.CallsTo("/b"), 1u);
  EXPECT_EQ(webhook_.CallsTo("/c"), 1u);
}

TEST_F(AdmissionTest, ScaleSubresourceIsAdmittedAsScale) {
  Send("POST", kStatefulSets, StatefulSet("etcd-main"), 201);
  Register("etcd-hostaliases", {Webhook("etcd.seedhop.io", "/mutate")});
  webhook_.Answer_([](const std::string&, const json& review) {
    if (review["request"].value("subResource", "") != "scale")
      return FakeWebhook::Allow(review);
    return FakeWebhook::Allow(
        review, json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 4}}}));
  });
  json scale = Send("PATCH", std::string(kStatefulSets) + "/etcd-main/scale",
                    {{"spec", {{"replicas", 5}}}}, 200, "application/merge-patch+json");
  EXPECT_EQ(scale["spec"]["replicas"], 4);
  EXPECT_EQ(
      Send("GET", std::string(kStatefulSets) + "/etcd-main", nullptr, 200)["spec"]["replicas"], 4);
  json reviews = Reviews(webhook_.Requests());
  ASSERT_EQ(reviews.size(), 1u);
  const json& request = reviews[0]["request"];
  EXPECT_EQ(request["kind"],
            json({{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}));
  EXPECT_EQ(request["resource"]["resource"], "statefulsets");
  EXPECT_EQ(request["subResource"], "scale");
  EXPECT_EQ(request["operation"], "UPDATE");
  EXPECT_EQ(request["oldObject"]["spec"]["replicas"], 3);
  EXPECT_EQ(request["object"]["spec"]["replicas"], 5);
}

TEST_F(AdmissionTest, DryRunNeedsSideEffectFreeWebhooks) {
  Register("etcd-hostaliases", {Webhook("etcd.seedhop.io", "/mutate", {{"sideEffects", "Some"}})});
  http::Response refused =
      Call("POST", std::string(kStatefulSets) + "?dryRun=All", StatefulSet("etcd-main").dump());
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(json::parse(refused.body)["message"],
            "admission webhook \"etcd.seedhop.io\" does not support dry run");
  Send("DELETE", std::string(kConfigurations) + "/etcd-hostaliases", nullptr, 200);
  Register("etcd-hostaliases", {Webhook("etcd.seedhop.io", "/mutate")});
  webhook_.Answer_(
      [](const std::string&, const json& review) { return FakeWebhook::Allow(review, kAddAlias); });
  json dry =
      Send("POST", std::string(kStatefulSets) + "?dryRun=All", StatefulSet("etcd-main"), 201);
  EXPECT_EQ(dry["spec"]["template"]["spec"]["hostAliases"].size(), 2u);
  EXPECT_EQ(Reviews(webhook_.Requests())[0]["request"]["dryRun"], true);
  EXPECT_EQ(Call("GET", std::string(kStatefulSets) + "/etcd-main", "").status, 404);
}

TEST_F(AdmissionTest, DeleteSendsTheOldObjectAndRefusesPatches) {
  Send("POST", kStatefulSets, StatefulSet("etcd-main"), 201);
  Send("POST", kStatefulSets, StatefulSet("etcd-events"), 201);
  Register("etcd-hostaliases", {Webhook("etcd.seedhop.io", "/mutate",
                                        {{"failurePolicy", "Ignore"},
                                         {"rules",
                                          {{{"operations", {"DELETE"}},
                                            {"apiGroups", {"apps"}},
                                            {"apiVersions", {"v1"}},
                                            {"resources", {"statefulsets"}}}}}})});
  Send("DELETE", std::string(kStatefulSets) + "/etcd-main", nullptr, 200);
  json reviews = Reviews(webhook_.Requests());
  ASSERT_EQ(reviews.size(), 1u);
  const json& request = reviews[0]["request"];
  EXPECT_EQ(request["operation"], "DELETE");
  EXPECT_TRUE(request["object"].is_null());
  EXPECT_EQ(request["oldObject"]["metadata"]["name"], "etcd-main");
  EXPECT_EQ(request["options"]["kind"], "DeleteOptions");

  webhook_.Answer_(
      [](const std::string&, const json& review) { return FakeWebhook::Allow(review, kAddAlias); });
  http::Response refused = Call("DELETE", std::string(kStatefulSets) + "/etcd-events", "");
  EXPECT_EQ(refused.status, 500);  // even under Ignore
  EXPECT_EQ(json::parse(refused.body)["message"],
            "Internal error occurred: admission webhook \"etcd.seedhop.io\" attempted to modify "
            "the object, which is not supported for this operation");
  EXPECT_EQ(Call("GET", std::string(kStatefulSets) + "/etcd-events", "").status, 200);
}

TEST(WebhookMatchesTest, RulesScopesAndSubresources) {
  AdmissionAttributes attributes;
  attributes.operation = "UPDATE";
  attributes.resource = {"apps", "v1", "statefulsets"};
  attributes.subresource = "scale";
  attributes.object = json::object();
  auto hook = [](json resources, json extra = json::object()) {
    json rule = {{"operations", {"*"}},
                 {"apiGroups", {"*"}},
                 {"apiVersions", {"*"}},
                 {"resources", resources}};
    rule.merge_patch(extra);
    return json{{"rules", {rule}}};
  };
  EXPECT_FALSE(*WebhookMatches(hook({"statefulsets"}), attributes));
  EXPECT_TRUE(*WebhookMatches(hook({"statefulsets/scale"}), attributes));
  EXPECT_TRUE(*WebhookMatches(hook({"*/scale"}), attributes));
  EXPECT_TRUE(*WebhookMatches(hook({"*/*"}), attributes));
  EXPECT_FALSE(*WebhookMatches(hook({"*"}), attributes));
  EXPECT_FALSE(*WebhookMatches(hook({"*/*"}, {{"scope", "Cluster"}}), attributes));
  attributes.subresource.clear();
  EXPECT_TRUE(*WebhookMatches(hook({"*"}, {{"scope", "Namespaced"}}), attributes));
  EXPECT_FALSE(*WebhookMatches(hook({"deployments"}), attributes));
  json bad = hook({"*"});
  bad["namespaceSelector"] = {{"matchExpressions", {{{"key", "a"}, {"operator", "Bogus"}}}}};
  EXPECT_FALSE(WebhookMatches(bad, attributes).ok());
}

TEST(VerifyAdmissionResponseTest, DecodesPatchAndRejectsGarbage) {
  json good = FakeWebhook::Allow({{"request", {{"uid", "u1"}}}}, kAddAlias);
  auto verdict = VerifyAdmissionResponse(good.dump(), "u1");
  ASSERT_TRUE(verdict.ok());
  EXPECT_TRUE(verdict->allowed);
  EXPECT_EQ(verdict->patch, kAddAlias);
  EXPECT_FALSE(VerifyAdmissionResponse("not json", "u1").ok());
  good["response"]["patchType"] = "MergePatch";
  auto merge = VerifyAdmissionResponse(good.dump(), "u1");
  ASSERT_FALSE(merge.ok());
  EXPECT_EQ(merge.error().message(), "unsupported patch type \"MergePatch\"");
}

}  // namespace
}  // namespace seedhop::emulator
