#include "migrator/shootstate/import.h"

#include <gtest/gtest.h>

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

constexpr char kNs[] = "shoot--p--s";
constexpr char kValue[] = "hunter2-very-secret";  // base64: aHVudGVyMi12ZXJ5LXNlY3JldA==
constexpr char kValueB64[] = "aHVudGVyMi12ZXJ5LXNlY3JldA==";

json State(json spec) {
  return {{"apiVersion", "core.gardener.cloud/v1beta1"},
          {"kind", "ShootState"},
          {"metadata", {{"name", "s"}, {"namespace", "garden-p"}}},
          {"spec", std::move(spec)}};
}

json SecretEntry(const std::string& name, const std::string& value_b64) {
  return {{"name", name},
          {"type", "secret"},
          {"labels", {{"persist", "true"}}},
          {"data", {{"data", {{"password", value_b64}}}, {"type", "Opaque"}}}};
}

json Spec() {
  return {{"gardener",
           {SecretEntry("ca", kValueB64),
            {{"name", "machine-state"}, {"type", "machine-state"}, {"data", json::object()}}}},
          {"extensions", {{{"kind", "Infrastructure"}, {"name", "s"}, {"state", {{"vpc", "v"}}}}}},
          {"resources",
           {{{"apiVersion", "example.io/v1"},
             {"kind", "Widget"},
             {"name", "w"},
             {"data",
              {{"apiVersion", "example.io/v1"},
               {"kind", "Widget"},
               {"metadata", {{"name", "w"}, {"uid", "u"}, {"namespace", "old"}}},
               {"spec", {{"size", 1}}},
               {"status", {{"ready", true}}}}}},
            {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"name", "tf"},
             {"data",
              {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", "tf"}}},
               {"data", {{"a", "b"}}}}}}}}};
}

TEST(DesiredObjects, DependencyOrderAndTargetNamespace) {
  auto desired = DesiredObjects(State(Spec()), kNs);
  ASSERT_TRUE(desired.ok()) << desired.error().message();
  std::vector<std::string> order;
  for (const auto& d : *desired)
    order.push_back(d.object["kind"].get<std::string>() + "/" +
                    d.object["metadata"]["name"].get<std::string>());
  EXPECT_EQ(order, (std::vector<std::string>{"Namespace/shoot--p--s", "Secret/ca", "ConfigMap/tf",
                                             "Widget/w", "Infrastructure/s"}));
  const DesiredObject& secret = (*desired)[1];
  EXPECT_EQ(secret.ref.resource, "secrets");
  EXPECT_EQ(secret.ref.ns, kNs);
  EXPECT_EQ(secret.object["data"]["password"], kValueB64);
  EXPECT_EQ(secret.object["type"], "Opaque");
  EXPECT_EQ(secret.object["metadata"]["labels"]["persist"], "true");
  const DesiredObject& widget = (*desired)[3];
  EXPECT_EQ(widget.ref.group, "example.io");
  EXPECT_EQ(widget.ref.resource, "widgets");
  EXPECT_EQ(widget.object["metadata"]["namespace"], kNs);
  EXPECT_FALSE(widget.object["metadata"].contains("uid"));
  EXPECT_FALSE(widget.object.contains("status"));
  const DesiredObject& infra = (*desired)[4];
  EXPECT_TRUE(infra.status_only);
  EXPECT_EQ(infra.ref.group, "extensions.gardener.cloud");
  EXPECT_EQ(infra.ref.resource, "infrastructures");
  EXPECT_EQ(infra.object["status"]["state"]["vpc"], "v");
}

TEST(DesiredObjects, BadInputsNameTheEntryNeverTheValue) {
  struct Case {
    json spec;
    std::string want;
  };
  const std::string not_base64 = std::string(kValue) + "!";
  std::vector<Case> cases = {
      {{{"gardener", "x"}}, "spec.gardener: must be a list"},
      {{{"gardener", {json{{"type", "secret"}}}}}, "spec.gardener[0]: name: required"},
      {{{"gardener", {SecretEntry("ca", not_base64)}}},
       "spec.gardener[0] \"ca\": data.data[\"password\"]: not valid base64"},
      {{{"gardener", {json{{"name", "ca"}, {"type", "secret"}, {"data", {{"data", {{"p", 1}}}}}}}}},
       "not valid base64"},
      {{{"gardener",
         {json{{"name", "ca"},
               {"type", "secret"},
               {"data", {{"data", json::object()}, {"immutable", "yes"}}}}}}},
       "data.immutable: must be a boolean"},
      {{{"resources", {json{{"kind", "ConfigMap"}, {"name", "x"}}}}},
       "spec.resources[0]: apiVersion, kind and name are required"},
      {{{"resources",
         {json{{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"name", "x"},
               {"data", {{"kind", "Secret"}}}}}}},
       "data: must be the object it names"},
      {{{"extensions", {json{{"name", "x"}}}}}, "spec.extensions[0]: kind and name are required"},
  };
  for (const auto& c : cases) {
    auto desired = DesiredObjects(State(c.spec), kNs);
    ASSERT_FALSE(desired.ok()) << c.spec.dump();
    EXPECT_NE(desired.error().message().find(c.want), std::string::npos)
        << desired.error().message();
    EXPECT_EQ(desired.error().message().find(kValue), std::string::npos);
  }
}

DesiredObject SecretDesired() {
  auto desired = DesiredObjects(State({{"gardener", {SecretEntry("ca", kValueB64)}}}), kNs);
  return (*desired)[1];
}

TEST(Decide, CreateUnchangedConflictOverwrite) {
  DesiredObject want = SecretDesired();
  EXPECT_EQ(Decide(want, nullptr, ConflictPolicy::kKeep), Action::kCreate);

  json live = want.object;
  live["metadata"]["uid"] = "u";
  live["metadata"]["resourceVersion"] = "7";
  live["metadata"]["creationTimestamp"] = "t";
  EXPECT_EQ(Decide(want, &live, ConflictPolicy::kKeep), Action::kNone);
  EXPECT_EQ(Decide(want, &live, ConflictPolicy::kOverwrite), Action::kNone);

  json changed = live;
  changed["data"]["password"] = "b3RoZXI=";
  EXPECT_EQ(Decide(want, &changed, ConflictPolicy::kKeep), Action::kConflict);
  EXPECT_EQ(Decide(want, &changed, ConflictPolicy::kOverwrite), Action::kUpdate);

  json relabelled = live;
  relabelled["metadata"]["labels"]["persist"] = "false";
  EXPECT_EQ(Decide(want, &relabelled, ConflictPolicy::kKeep), Action::kConflict);
}

TEST(Decide, ExtensionStatusIsRestoredIntoEmptyStatusOnly) {
  auto desired = DesiredObjects(State(Spec()), kNs);
  ASSERT_TRUE(desired.ok());
  const DesiredObject& infra = desired->back();
  ASSERT_TRUE(infra.status_only);
  EXPECT_EQ(Decide(infra, nullptr, ConflictPolicy::kKeep), Action::kNone);
  json live = {{"metadata", {{"name", "s"}}}, {"spec", {{"type", "aws"}}}};
  EXPECT_EQ(Decide(infra, &live, ConflictPolicy::kKeep), Action::kUpdate);
  live["status"] = {{"state", {{"vpc", "v"}}}, {"observedGeneration", 2}};
  EXPECT_EQ(Decide(infra, &live, ConflictPolicy::kKeep), Action::kNone);
  live["status"]["state"]["vpc"] = "other";
  EXPECT_EQ(Decide(infra, &live, ConflictPolicy::kKeep), Action::kConflict);
  EXPECT_EQ(Decide(infra, &live, ConflictPolicy::kOverwrite), Action::kUpdate);
}

TEST(RedactSecretValues, RemovesEncodedAndDecodedValues) {
  DesiredObject want = SecretDesired();
  std::string message =
      std::string("Secret \"ca\" is invalid: data[password]: ") + kValue + " and " + kValueB64;
  std::string redacted = RedactSecretValues(message, want.object);
  EXPECT_EQ(redacted.find(kValue), std::string::npos) << redacted;
  EXPECT_EQ(redacted.find(kValueB64), std::string::npos) << redacted;
  EXPECT_NE(redacted.find("<redacted>"), std::string::npos);
  EXPECT_NE(redacted.find("Secret \"ca\" is invalid"), std::string::npos);
  EXPECT_EQ(RedactSecretValues("nothing here", want.object), "nothing here");
}

TEST(ConflictPolicy, Parses) {
  EXPECT_EQ(*ParseConflictPolicy("keep"), ConflictPolicy::kKeep);
  EXPECT_EQ(*ParseConflictPolicy("overwrite"), ConflictPolicy::kOverwrite);
  EXPECT_FALSE(ParseConflictPolicy("merge").ok());
}

TEST(ImportReport, CountsAndJson) {
  ImportReport report;
  report.objects = {{"Secret", "a", Outcome::kCreated, "", 10},
                    {"Secret", "b", Outcome::kConflict, "differs", 0},
                    {"ConfigMap", "c", Outcome::kCreated, "", 5}};
  report.bytes_copied = 15;
  EXPECT_EQ(report.Count(Outcome::kCreated), 2u);
  EXPECT_EQ(report.Count(Outcome::kFailed), 0u);
  json j = report.ToJson();
  EXPECT_EQ(j["counts"]["created"], 2);
  EXPECT_EQ(j["counts"]["conflict"], 1);
  EXPECT_EQ(j["bytesCopied"], 15);
  EXPECT_EQ(j["objects"][1]["detail"], "differs");
  EXPECT_FALSE(j["objects"][0].contains("detail"));
}

}  // namespace
}  // namespace seedhop::migrator::shootstate
