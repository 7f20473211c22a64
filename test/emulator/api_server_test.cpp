#include "test/emulator/api_server.h"

#include <gtest/gtest.h>

#include <set>

namespace seedhop::emulator {
namespace {

using nlohmann::json;

const char kToken[] = "test-token";

// Collects what a watch writes; the watch ends through timeoutSeconds.
class CollectingWriter : public http::StreamWriter {
 public:
  bool Write(std::string chunk) override {
    text += chunk;
    return true;
  }
  bool WaitAlive(int) override { return true; }
  std::vector<json> Events() const {
    std::vector<json> events;
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      events.push_back(json::parse(text.substr(start, end - start)));
    }
    return events;
  }
  std::string text;
};

class ApiServerTest : public ::testing::Test {
 protected:
  static ApiServerOptions Options() {
    ApiServerOptions options;
    options.token = kToken;
    options.store.history_limit = 50;
    options.bookmark_interval = std::chrono::milliseconds(100);
    return options;
  }

  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& content_type = "",
                      const std::string& accept = "") {
    http::Request request;
    request.method = method;
    request.target = target;
    size_t question = target.find('?');
    request.path = target.substr(0, question);
    request.query = question == std::string::npos ? "" : target.substr(question + 1);
    request.headers["authorization"] = std::string("Bearer ") + kToken;
    if (!content_type.empty())
      request.headers["content-type"] = content_type;
    if (!accept.empty())
      request.headers["accept"] = accept;
    request.body = body;
    return api_.Handle(request);
  }
  json Send(const std::string& method, const std::string& target, const json& body, int expected,
            const std::string& content_type = "application/json") {
    http::Response response = Call(method, target, body.dump(), content_type);
    EXPECT_EQ(response.status, expected) << method << " " << target << ": " << response.body;
    return json::parse(response.body, nullptr, false);
  }
  void MakeNamespace(const std::string& name, json labels = json::object()) {
    Send("POST", "/api/v1/namespaces",
         {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata", {{"name", name}, {"labels", labels}}}},
         201);
  }
  static json ConfigMap(const std::string& name, json data = {{"k", "v"}}) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}}},
            {"data", data}};
  }
  static json StatefulSet(const std::string& name, int replicas) {
    return {{"apiVersion", "apps/v1"},
            {"kind", "StatefulSet"},
            {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
            {"spec",
             {{"replicas", replicas},
              {"serviceName", name + "-peer"},
              {"selector", {{"matchLabels", {{"app", name}}}}},
              {"template", {{"metadata", {{"labels", {{"app", name}}}}}}}}}};
  }
  std::vector<json> Watch(const std::string& target) {
    http::Response response = Call("GET", target);
    EXPECT_EQ(response.status, 200) << response.body;
    CollectingWriter writer;
    if (response.stream)
      response.stream(writer);
    return writer.Events();
  }

  ApiServer api_{Options()};
};

TEST_F(ApiServerTest, RequiresTheBearerToken) {
  http::Request request;
  request.method = "GET";
  request.path = request.target = "/api/v1/namespaces";
  http::Response response = api_.Handle(request);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                           R"("message":"Unauthorized","reason":"Unauthorized","code":401})");
  request.headers["authorization"] = "Bearer wrong";
  EXPECT_EQ(api_.Handle(request).status, 401);
  request.path = request.target = "/healthz";
  EXPECT_EQ(api_.Handle(request).status, 200);
}

TEST_F(ApiServerTest, ServesDiscovery) {
  json core = Send("GET", "/api", nullptr, 200);
  EXPECT_EQ(core["versions"], json::array({"v1"}));
  json v1 = Send("GET", "/api/v1", nullptr, 200);
  EXPECT_EQ(v1["kind"], "APIResourceList");
  bool found_pods = false;
  for (const auto& resource : v1["resources"]) {
    if (resource["name"] == "pods") {
      found_pods = true;
      EXPECT_EQ(resource["shortNames"], json::array({"po"}));
      EXPECT_EQ(resource["namespaced"], true);
      EXPECT_EQ(resource["singularName"], "pod");
      EXPECT_EQ(resource["kind"], "Pod");
    }
    if (resource["name"] == "namespaces") {
      EXPECT_EQ(resource["namespaced"], false);
    }
  }
  EXPECT_TRUE(found_pods);
  json groups = Send("GET", "/apis", nullptr, 200);
  std::set<std::string> names;
  for (const auto& group : groups["groups"])
    names.insert(group["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"admissionregistration.k8s.io", "apiextensions.k8s.io",
                                          "apps", "coordination.k8s.io"}));
  json apps = Send("GET", "/apis/apps/v1", nullptr, 200);
  bool found_scale = false;
  for (const auto& resource : apps["resources"]) {
    if (resource["name"] == "statefulsets") {
      EXPECT_EQ(resource["shortNames"], json::array({"sts"}));
    }
    if (resource["name"] == "statefulsets/scale") {
      found_scale = true;
      EXPECT_EQ(resource["group"], "autoscaling");
      EXPECT_EQ(resource["kind"], "Scale");
    }
  }
  EXPECT_TRUE(found_scale);
  EXPECT_EQ(Send("GET", "/apis/apps", nullptr, 200)["preferredVersion"]["groupVersion"], "apps/v1");
  EXPECT_EQ(Send("GET", "/version", nullptr, 200)["major"], "1");
  EXPECT_EQ(Call("GET", "/apis/nothing.example/v1").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/x/widgets").status, 404);
  json openapi = Send("GET", "/openapi/v3", nullptr, 200);
  ASSERT_TRUE(openapi["paths"].contains("apis/apps/v1"));
  json apps_doc = Send("GET", "/openapi/v3/apis/apps/v1", nullptr, 200);
  EXPECT_TRUE(
      apps_doc["paths"].contains("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"));
}

TEST_F(ApiServerTest, StatusBodiesMatchKubeApiserver) {
  MakeNamespace("ns");
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/ns/pods/x").body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"pods \"x\" not found","reason":"NotFound",)"
            R"("details":{"name":"x","kind":"pods"},"code":404})");
  EXPECT_EQ(Call("GET", "/apis/apps/v1/namespaces/ns/statefulsets/etcd").body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"statefulsets.apps \"etcd\" not found","reason":"NotFound",)"
            R"("details":{"name":"etcd","group":"apps","kind":"statefulsets"},"code":404})");
  http::Response missing_ns =
      Call("POST", "/api/v1/namespaces/nope/configmaps", ConfigMap("a").dump());
  EXPECT_EQ(missing_ns.status, 404);
  EXPECT_EQ(missing_ns.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"namespaces \"nope\" not found","reason":"NotFound",)"
            R"("details":{"name":"nope","kind":"namespaces"},"code":404})");
  Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("a"), 201);
  EXPECT_EQ(Call("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("a").dump()).body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"configmaps \"a\" already exists","reason":"AlreadyExists",)"
            R"("details":{"name":"a","kind":"configmaps"},"code":409})");
  json stale = ConfigMap("a");
  stale["metadata"]["resourceVersion"] = "1";
  http::Response conflict = Call("PUT", "/api/v1/namespaces/ns/configmaps/a", stale.dump());
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Operation cannot be fulfilled on configmaps \"a\": the object has been )"
            R"(modified; please apply your changes to the latest version and try again",)"
            R"("reason":"Conflict","details":{"name":"a","kind":"configmaps"},"code":409})");
  json nameless = ConfigMap("");
  http::Response invalid = Call("POST", "/api/v1/namespaces/ns/configmaps", nameless.dump());
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(json::parse(invalid.body)["message"],
            "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is "
            "required");
}

TEST_F(ApiServerTest, CreateUpdateAndGenerateName) {
  MakeNamespace("ns");
  json created = Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("a"), 201);
  EXPECT_EQ(created["metadata"]["namespace"], "ns");
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  json generated = ConfigMap("");
  generated["metadata"]["generateName"] = "etcd-";
  json with_name = Send("POST", "/api/v1/namespaces/ns/configmaps", generated, 201);
  std::string name = with_name["metadata"]["name"];
  EXPECT_EQ(name.size(), 10u);
  EXPECT_EQ(name.rfind("etcd-", 0), 0u);

  json update = created;
  update["data"]["k"] = "changed";
  json updated = Send("PUT", "/api/v1/namespaces/ns/configmaps/a", update, 200);
  EXPECT_EQ(updated["data"]["k"], "changed");
  EXPECT_NE(updated["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);

  EXPECT_EQ(Call("PUT", "/api/v1/namespaces/ns/configmaps/b", update.dump()).status, 400);
  json other_ns = ConfigMap("c");
  other_ns["metadata"]["namespace"] = "elsewhere";
  EXPECT_EQ(Call("POST", "/api/v1/namespaces/ns/configmaps", other_ns.dump()).status, 400);
  json wrong_kind = ConfigMap("d");
  wrong_kind["kind"] = "Secret";
  EXPECT_EQ(Call("POST", "/api/v1/namespaces/ns/configmaps", wrong_kind.dump()).status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/namespaces/ns/configmaps", "{not json").status, 400);
  json with_rv = ConfigMap("e");
  with_rv["metadata"]["resourceVersion"] = "5";
  http::Response rv_set = Call("POST", "/api/v1/namespaces/ns/configmaps", with_rv.dump());
  EXPECT_EQ(rv_set.status, 500);
  EXPECT_EQ(json::parse(rv_set.body)["message"],
            "resourceVersion should not be set on objects to be created");
  EXPECT_EQ(Call("PUT", "/api/v1/namespaces/ns/configmaps/zz", ConfigMap("zz").dump()).status, 404);

  // Leases are created by PUT (AllowCreateOnUpdate), as leader election relies on.
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "kcm"}}},
                {"spec", {{"holderIdentity", "a"}}}};
  Send("PUT", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/kcm", lease, 201);
}

TEST_F(ApiServerTest, DryRunStoresNothing) {
  MakeNamespace("ns");
  json created = Send("POST", "/api/v1/namespaces/ns/configmaps?dryRun=All", ConfigMap("a"), 201);
  EXPECT_EQ(created["metadata"]["name"], "a");
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/ns/configmaps/a").status, 404);
}

TEST_F(ApiServerTest, PatchTypes) {
  MakeNamespace("ns");
  Send("POST", "/apis/apps/v1/namespaces/ns/statefulsets", StatefulSet("etcd", 3), 201);
  const std::string path = "/apis/apps/v1/namespaces/ns/statefulsets/etcd";
  json merged =
      Send("PATCH", path, {{"spec", {{"replicas", 5}}}}, 200, "application/merge-patch+json");
  EXPECT_EQ(merged["spec"]["replicas"], 5);
  EXPECT_EQ(merged["metadata"]["generation"], 2);
  json strategic = Send("PATCH", path, {{"metadata", {{"labels", {{"x", "y"}}}}}}, 200,
                        "application/strategic-merge-patch+json");
  EXPECT_EQ(strategic["metadata"]["labels"]["x"], "y");
  EXPECT_EQ(strategic["metadata"]["labels"]["app"], "etcd");
  EXPECT_EQ(strategic["metadata"]["generation"], 2);
  json patched = Send("PATCH", path,
                      json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 1}}}),
                      200, "application/json-patch+json");
  EXPECT_EQ(patched["spec"]["replicas"], 1);

  http::Response bad_path =
      Call("PATCH", path, R"([{"op":"replace","path":"/spec/nothing/deep","value":1}])",
           "application/json-patch+json");
  EXPECT_EQ(bad_path.status, 422);
  EXPECT_EQ(Call("PATCH", path, "{}", "text/plain").status, 415);
  EXPECT_EQ(Call("PATCH", path, "[1,2", "application/merge-patch+json").status, 400);
  http::Response stale = Call("PATCH", path, R"({"metadata":{"resourceVersion":"1"}})",
                              "application/merge-patch+json");
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Call("PATCH", path + "x", "{}", "application/merge-patch+json").status, 404);
  // Status changes through the main resource are ignored.
  json with_status =
      Send("PATCH", path, {{"status", {{"replicas", 9}}}}, 200, "application/merge-patch+json");
  EXPECT_FALSE(with_status.contains("status"));
}

TEST_F(ApiServerTest, StatusAndScaleSubresources) {
  MakeNamespace("ns");
  json sts = Send("POST", "/apis/apps/v1/namespaces/ns/statefulsets", StatefulSet("etcd", 3), 201);
  const std::string path = "/apis/apps/v1/namespaces/ns/statefulsets/etcd";
  json status = sts;
  status["status"] = {{"replicas", 3}, {"readyReplicas", 2}};
  status["spec"]["replicas"] = 7;  // ignored by /status
  json written = Send("PUT", path + "/status", status, 200);
  EXPECT_EQ(written["status"]["readyReplicas"], 2);
  EXPECT_EQ(written["spec"]["replicas"], 3);
  EXPECT_EQ(written["metadata"]["generation"], 1);

  json scale = Send("GET", path + "/scale", nullptr, 200);
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(scale["spec"]["replicas"], 3);
  EXPECT_EQ(scale["status"]["replicas"], 3);
  EXPECT_EQ(scale["status"]["selector"], "app=etcd");
  json scaled = Send("PATCH", path + "/scale", {{"spec", {{"replicas", 5}}}}, 200,
                     "application/merge-patch+json");
  EXPECT_EQ(scaled["spec"]["replicas"], 5);
  json after = Send("GET", path, nullptr, 200);
  EXPECT_EQ(after["spec"]["replicas"], 5);
  EXPECT_EQ(after["metadata"]["generation"], 2);
  scale = Send("GET", path + "/scale", nullptr, 200);
  scale["spec"]["replicas"] = -1;
  EXPECT_EQ(Call("PUT", path + "/scale", scale.dump()).status, 422);
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/ns/configmaps/x/scale").status, 404);
}

TEST_F(ApiServerTest, DeleteObjectsFinalizersAndNamespaces) {
  MakeNamespace("ns");
  Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("a"), 201);
  json finalized = ConfigMap("f");
  finalized["metadata"]["finalizers"] = {"seedhop.io/keep"};
  Send("POST", "/api/v1/namespaces/ns/configmaps", finalized, 201);
  json deleted = Send("DELETE", "/api/v1/namespaces/ns/configmaps/a", nullptr, 200);
  EXPECT_EQ(deleted["metadata"]["name"], "a");
  EXPECT_EQ(Call("DELETE", "/api/v1/namespaces/ns/configmaps/a").status, 404);
  json pending = Send("DELETE", "/api/v1/namespaces/ns/configmaps/f", nullptr, 202);
  EXPECT_TRUE(pending["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/ns/configmaps/f").status, 200);
  json precondition = {{"preconditions", {{"uid", "not-the-uid"}}}};
  Send("DELETE", "/api/v1/namespaces/ns/configmaps/f", precondition, 409);

  Send("DELETE", "/api/v1/namespaces/ns", nullptr, 200);
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/ns/configmaps/f").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/ns").status, 404);
}

TEST_F(ApiServerTest, DeleteCollectionBySelector) {
  MakeNamespace("ns");
  for (const char* name : {"a", "b", "c"}) {
    json cm = ConfigMap(name);
    cm["metadata"]["labels"]["group"] = std::string(name) == "c" ? "keep" : "drop";
    Send("POST", "/api/v1/namespaces/ns/configmaps", cm, 201);
  }
  json deleted =
      Send("DELETE", "/api/v1/namespaces/ns/configmaps?labelSelector=group%3Ddrop", nullptr, 200);
  EXPECT_EQ(deleted["items"].size(), 2u);
  EXPECT_EQ(Send("GET", "/api/v1/namespaces/ns/configmaps", nullptr, 200)["items"].size(), 1u);
}

TEST_F(ApiServerTest, RequestAndObjectSizeLimits) {
  MakeNamespace("ns");
  http::Response too_large =
      Call("POST", "/api/v1/namespaces/ns/configmaps", std::string(3 * 1024 * 1024 + 1, ' '));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Request entity too large: limit is 3145728",)"
            R"("reason":"RequestEntityTooLarge","code":413})");
  // Under the request limit but over etcd's 1.5 MiB: etcd's error, as a reason-less 500.
  http::Response too_big_for_etcd =
      Call("POST", "/api/v1/namespaces/ns/configmaps",
           ConfigMap("big", {{"k", std::string(1600 * 1024, 'x')}}).dump());
  EXPECT_EQ(too_big_for_etcd.status, 500);
  EXPECT_EQ(too_big_for_etcd.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"etcdserver: request is too large","code":500})");
  Send("POST", "/api/v1/namespaces/ns/configmaps",
       ConfigMap("fits", {{"k", std::string(1400 * 1024, 'x')}}), 201);
}

TEST_F(ApiServerTest, ListPaginationSelectorsAndTables) {
  MakeNamespace("a");
  MakeNamespace("b");
  for (int i = 0; i < 7; ++i) {
    json cm = ConfigMap("cm-" + std::to_string(i));
    cm["metadata"]["labels"]["parity"] = i % 2 ? "odd" : "even";
    Send("POST", std::string("/api/v1/namespaces/") + (i < 4 ? "a" : "b") + "/configmaps", cm, 201);
  }
  std::set<std::string> names;
  std::string token;
  int pages = 0;
  do {
    json page = Send("GET", "/api/v1/configmaps?limit=3&continue=" + token, nullptr, 200);
    EXPECT_EQ(page["kind"], "ConfigMapList");
    EXPECT_FALSE(page["metadata"]["resourceVersion"].get<std::string>().empty());
    for (const auto& item : page["items"])
      names.insert(item["metadata"]["name"]);
    token = page["metadata"].value("continue", "");
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(pages, 3);
  json odd =
      Send("GET", "/api/v1/namespaces/a/configmaps?labelSelector=parity%3Dodd", nullptr, 200);
  EXPECT_EQ(odd["items"].size(), 2u);
  json named = Send("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dcm-5", nullptr, 200);
  ASSERT_EQ(named["items"].size(), 1u);
  EXPECT_EQ(named["items"][0]["metadata"]["namespace"], "b");
  EXPECT_EQ(Call("GET", "/api/v1/configmaps?labelSelector=a%20in%20b").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/configmaps?fieldSelector=spec.x%3D1").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/configmaps?continue=garbage").status, 400);

  http::Response table = Call("GET", "/api/v1/namespaces/a/configmaps", "", "",
                              "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  json parsed = json::parse(table.body);
  EXPECT_EQ(parsed["kind"], "Table");
  EXPECT_EQ(parsed["columnDefinitions"][0]["name"], "Name");
  EXPECT_EQ(parsed["columnDefinitions"][1]["name"], "Age");
  ASSERT_EQ(parsed["rows"].size(), 4u);
  EXPECT_EQ(parsed["rows"][0]["cells"][0], "cm-0");
  EXPECT_EQ(parsed["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST_F(ApiServerTest, CustomResourceDefinitionsRegisterResources) {
  json crd = json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "etcdplans.seedhop.io"},
    "spec": {"group": "seedhop.io", "scope": "Namespaced",
      "names": {"plural": "etcdplans", "singular": "etcdplan", "kind": "EtcdPlan",
                "shortNames": ["ep2"]},
      "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                    "subresources": {"status": {}}}]}})");
  EXPECT_EQ(Call("GET", "/apis/seedhop.io/v1alpha1").status, 404);
  json stored = Send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, 201);
  EXPECT_EQ(stored["status"]["conditions"][1]["type"], "Established");
  json resources = Send("GET", "/apis/seedhop.io/v1alpha1", nullptr, 200);
  ASSERT_EQ(resources["resources"].size(), 2u);
  EXPECT_EQ(resources["resources"][0]["name"], "etcdplans");
  EXPECT_EQ(resources["resources"][1]["name"], "etcdplans/status");

  MakeNamespace("ns");
  json plan = {{"apiVersion", "seedhop.io/v1alpha1"},
               {"kind", "EtcdPlan"},
               {"metadata", {{"name", "etcd-main"}}},
               {"spec", {{"replicas", 3}}},
               {"status", {{"dropped", true}}}};
  json created = Send("POST", "/apis/seedhop.io/v1alpha1/namespaces/ns/etcdplans", plan, 201);
  EXPECT_FALSE(created.contains("status"));
  created["status"] = {{"phase", "Done"}};
  Send("PUT", "/apis/seedhop.io/v1alpha1/namespaces/ns/etcdplans/etcd-main/status", created, 200);
  EXPECT_EQ(Send("GET", "/apis/seedhop.io/v1alpha1/namespaces/ns/etcdplans/etcd-main", nullptr,
                 200)["status"]["phase"],
            "Done");

  json bad = crd;
  bad["metadata"]["name"] = "wrong";
  EXPECT_EQ(
      Call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad.dump()).status,
      422);
  Send("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/etcdplans.seedhop.io",
       nullptr, 200);
  EXPECT_EQ(Call("GET", "/apis/seedhop.io/v1alpha1/namespaces/ns/etcdplans").status, 404);
}

TEST_F(ApiServerTest, WatchReplaysFromResourceVersion) {
  MakeNamespace("ns");
  json a = Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("a"), 201);
  std::string rv = a["metadata"]["resourceVersion"];
  a["data"]["k"] = "2";
  Send("PUT", "/api/v1/namespaces/ns/configmaps/a", a, 200);
  Send("DELETE", "/api/v1/namespaces/ns/configmaps/a", nullptr, 200);
  auto events =
      Watch("/api/v1/namespaces/ns/configmaps?watch=true&timeoutSeconds=1&resourceVersion=" + rv);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "MODIFIED");
  EXPECT_EQ(events[0]["object"]["data"]["k"], "2");
  EXPECT_EQ(events[1]["type"], "DELETED");

  Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("b"), 201);
  auto initial = Watch("/api/v1/configmaps?watch=true&timeoutSeconds=1");
  ASSERT_EQ(initial.size(), 1u);
  EXPECT_EQ(initial[0]["type"], "ADDED");
  EXPECT_EQ(initial[0]["object"]["metadata"]["name"], "b");
}

TEST_F(ApiServerTest, WatchSelectorTransitionsAndBookmarks) {
  MakeNamespace("ns");
  json a = Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("a"), 201);
  std::string rv = a["metadata"]["resourceVersion"];
  a["metadata"]["labels"]["watched"] = "yes";
  a = Send("PUT", "/api/v1/namespaces/ns/configmaps/a", a, 200);
  a["metadata"]["labels"].erase("watched");
  Send("PUT", "/api/v1/namespaces/ns/configmaps/a", a, 200);
  auto events = Watch(
      "/api/v1/namespaces/ns/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true"
      "&labelSelector=watched%3Dyes&resourceVersion=" +
      rv);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "DELETED");
  EXPECT_EQ(events.back()["type"], "BOOKMARK");
  EXPECT_EQ(events.back()["object"]["kind"], "ConfigMap");
  EXPECT_FALSE(events.back()["object"]["metadata"]["resourceVersion"].get<std::string>().empty());
}

TEST_F(ApiServerTest, WatchFromExpiredResourceVersionGets410) {
  MakeNamespace("ns");
  for (int i = 0; i < 60; ++i) {  // the history keeps 50 changes
    Send("POST", "/api/v1/namespaces/ns/configmaps", ConfigMap("cm-" + std::to_string(i)), 201);
  }
  auto events = Watch("/api/v1/namespaces/ns/configmaps?watch=true&resourceVersion=2");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_EQ(events[0]["object"]["message"], "too old resource version: 2 (11)");
  EXPECT_EQ(Call("GET", "/api/v1/configmaps?watch=true&resourceVersion=abc").status, 400);
}

TEST(AgeSinceTest, FormatsLikeKubectl) {
  std::time_t now = 1000000000;  // 2001-09-09T01:46:40Z
  EXPECT_EQ(AgeSince("2001-09-09T01:46:35Z", now), "5s");
  EXPECT_EQ(AgeSince("2001-09-09T01:36:40Z", now), "10m");
  EXPECT_EQ(AgeSince("2001-09-08T22:46:40Z", now), "3h");
  EXPECT_EQ(AgeSince("2001-09-01T01:46:40Z", now), "8d");
  EXPECT_EQ(AgeSince("1999-09-01T01:46:40Z", now), "2y");
  EXPECT_EQ(AgeSince("garbage", now), "<unknown>");
}

}  // namespace
}  // namespace seedhop::emulator
