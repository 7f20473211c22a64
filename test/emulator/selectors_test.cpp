#include "test/emulator/selectors.h"

#include <gtest/gtest.h>

namespace seedhop::emulator {
namespace {

using nlohmann::json;

bool Match(const std::string& selector, const json& labels) {
  auto parsed = LabelSelector::Parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << (parsed.ok() ? "" : parsed.error().message());
  return parsed.ok() && parsed->Matches(labels);
}

TEST(LabelSelectorTest, EqualityOperators) {
  json labels = {{"app", "etcd"}, {"role", "main"}};
  EXPECT_TRUE(Match("app=etcd", labels));
  EXPECT_TRUE(Match("app==etcd", labels));
  EXPECT_FALSE(Match("app!=etcd", labels));
  EXPECT_TRUE(Match("app!=kcm", labels));
  EXPECT_TRUE(Match("missing!=x", labels));  // != matches absent keys, as in kube
  EXPECT_TRUE(Match("app=etcd,role=main", labels));
  EXPECT_FALSE(Match("app=etcd,role=events", labels));
}

TEST(LabelSelectorTest, SetAndExistenceOperators) {
  json labels = {{"app", "etcd"}};
  EXPECT_TRUE(Match("app in (kcm, etcd)", labels));
  EXPECT_FALSE(Match("app in (kcm)", labels));
  EXPECT_TRUE(Match("app notin (kcm)", labels));
  EXPECT_FALSE(Match("app notin (etcd,kcm)", labels));
  EXPECT_TRUE(Match("other notin (x)", labels));
  EXPECT_TRUE(Match("app", labels));
  EXPECT_FALSE(Match("!app", labels));
  EXPECT_TRUE(Match("!other", labels));
  EXPECT_FALSE(Match("other", labels));
  EXPECT_FALSE(Match("app", nullptr));
  EXPECT_TRUE(Match("", nullptr));
  EXPECT_TRUE(Match("app in (etcd),!other,app!=x", labels));
}

TEST(LabelSelectorTest, RejectsMalformedSelectors) {
  for (const char* bad : {"app in etcd", "app in ()", ",app=x", "a b=c", "app=(x)", "=x"}) {
    auto parsed = LabelSelector::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code(), ErrorCode::kBadRequest) << bad;
    }
  }
}

TEST(LabelSelectorTest, FromJsonMatchLabelsAndExpressions) {
  auto selector = LabelSelector::FromJson(json::parse(R"({
    "matchLabels": {"gardener.cloud/role": "shoot"},
    "matchExpressions": [
      {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]},
      {"key": "skip", "operator": "DoesNotExist"}]})"));
  ASSERT_TRUE(selector.ok());
  EXPECT_TRUE(selector->Matches(
      {{"gardener.cloud/role", "shoot"}, {"kubernetes.io/metadata.name", "shoot--a--b"}}));
  EXPECT_FALSE(selector->Matches(
      {{"gardener.cloud/role", "shoot"}, {"kubernetes.io/metadata.name", "kube-system"}}));
  EXPECT_FALSE(selector->Matches({{"gardener.cloud/role", "shoot"}, {"skip", "true"}}));
  EXPECT_FALSE(selector->Matches({{"gardener.cloud/role", "seed"}}));
  EXPECT_TRUE(LabelSelector::FromJson(json::object())->Matches(nullptr));
  EXPECT_TRUE(LabelSelector::FromJson(nullptr)->empty());
}

TEST(LabelSelectorTest, FromJsonRejectsBadExpressions) {
  EXPECT_FALSE(
      LabelSelector::FromJson(
          json::parse(R"({"matchExpressions":[{"key":"a","operator":"Near","values":["x"]}]})"))
          .ok());
  EXPECT_FALSE(
      LabelSelector::FromJson(json::parse(R"({"matchExpressions":[{"key":"a","operator":"In"}]})"))
          .ok());
  EXPECT_FALSE(
      LabelSelector::FromJson(
          json::parse(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})"))
          .ok());
  EXPECT_FALSE(LabelSelector::FromJson(json::parse(R"({"matchLabels":{"a":1}})")).ok());
  EXPECT_FALSE(LabelSelector::FromJson(json::array()).ok());
}

TEST(FieldSelectorTest, NameAndNamespace) {
  auto selector = FieldSelector::Parse("metadata.name=etcd-main,metadata.namespace!=garden");
  ASSERT_TRUE(selector.ok());
  EXPECT_TRUE(selector->Matches("shoot--a", "etcd-main"));
  EXPECT_FALSE(selector->Matches("garden", "etcd-main"));
  EXPECT_FALSE(selector->Matches("shoot--a", "etcd-events"));
  EXPECT_EQ(selector->PinnedName(), "etcd-main");
  EXPECT_TRUE(FieldSelector::Parse("metadata.name==x")->Matches("", "x"));
  EXPECT_TRUE(FieldSelector::Parse("")->Matches("a", "b"));
}

TEST(FieldSelectorTest, RejectsUnsupportedFields) {
  auto selector = FieldSelector::Parse("spec.nodeName=x");
  ASSERT_FALSE(selector.ok());
  EXPECT_EQ(selector.error().message(), "field label not supported: spec.nodeName");
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace seedhop::emulator
