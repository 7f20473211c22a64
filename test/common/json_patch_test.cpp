#include "common/kube/json_patch.h"

#include <gtest/gtest.h>

namespace seedhop::kube {
namespace {

TEST(JsonPointer, EscapesTildeBeforeSlash) {
  // "~1" in the input must become "~01", not "~1" read back as "/" (RFC 6901 section 4 order).
  EXPECT_EQ(EscapePointerToken("a~1b"), "a~01b");
  EXPECT_EQ(EscapePointerToken("app.kubernetes.io/name"), "app.kubernetes.io~1name");
  EXPECT_EQ(JsonPointer({"metadata", "labels", "a/b~c"}), "/metadata/labels/a~1b~0c");
  EXPECT_EQ(JsonPointer({}), "");
}

TEST(JsonPatch, EscapedPathsApplyToTheKeyTheyName) {
  nlohmann::json doc = {{"metadata", {{"labels", {{"a/b", "x"}, {"c~d", "y"}}}}}};
  JsonPatch patch;
  patch.Replace(JsonPointer({"metadata", "labels", "a/b"}), "new")
      .Remove(JsonPointer({"metadata", "labels", "c~d"}))
      .Add(JsonPointer({"metadata", "labels", "e/f~g"}), "added")
      .Test(JsonPointer({"metadata", "labels", "e/f~g"}), "added");
  nlohmann::json patched = doc.patch(patch.ToJson());
  EXPECT_EQ(patched["metadata"]["labels"], (nlohmann::json{{"a/b", "new"}, {"e/f~g", "added"}}));
  EXPECT_EQ(patch.size(), 4u);
}

TEST(JsonPatch, KeepsOperationOrder) {
  JsonPatch patch;
  EXPECT_TRUE(patch.empty());
  patch.Add("/spec/x", 1).Replace("/spec/x", 2);
  ASSERT_EQ(patch.ToJson().size(), 2u);
  EXPECT_EQ(patch.ToJson()[0]["op"], "add");
  EXPECT_EQ(patch.ToJson()[1]["op"], "replace");
  EXPECT_EQ(nlohmann::json({{"spec", nlohmann::json::object()}}).patch(patch.ToJson())["spec"]["x"],
            2);
}

}  // namespace
}  // namespace seedhop::kube
