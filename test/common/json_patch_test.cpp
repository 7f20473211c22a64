#include "common/kube/json_patch.h"

#include <gtest/gtest.h>

#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

namespace seedhop::kube {
namespace {

using nlohmann::json;

TEST(JsonPointer, EscapesTildeBeforeSlash) {
  // "~1" in the input must become "~01", not "~1" read back as "/" (RFC 6901 section 4 order).
  EXPECT_EQ(EscapePointerToken("a~1b"), "a~01b");
  EXPECT_EQ(EscapePointerToken("app.kubernetes.io/name"), "app.kubernetes.io~1name");
  EXPECT_EQ(JsonPointer({"metadata", "labels", "a/b~c"}), "/metadata/labels/a~1b~0c");
  EXPECT_EQ(JsonPointer({}), "");
}

TEST(JsonPatch, EscapedPathsApplyToTheKeyTheyName) {
  json doc = {{"metadata", {{"labels", {{"a/b", "x"}, {"c~d", "y"}}}}}};
  JsonPatch patch;
  patch.Replace(JsonPointer({"metadata", "labels", "a/b"}), R"("new")")
      .Remove(JsonPointer({"metadata", "labels", "c~d"}))
      .Add(JsonPointer({"metadata", "labels", "e/f~g"}), R"("added")")
      .Test(JsonPointer({"metadata", "labels", "e/f~g"}), R"("added")");
  json patched = doc.patch(json::parse(patch.text()));
  EXPECT_EQ(patched["metadata"]["labels"], (json{{"a/b", "new"}, {"e/f~g", "added"}}));
  EXPECT_EQ(patch.size(), 4u);
}

TEST(JsonPatch, KeepsOperationOrder) {
  JsonPatch patch;
  EXPECT_TRUE(patch.empty());
  patch.Add("/spec/x", "1").Replace("/spec/x", "2");
  json operations = json::parse(patch.text());
  ASSERT_EQ(operations.size(), 2u);
  EXPECT_EQ(operations[0]["op"], "add");
  EXPECT_EQ(operations[1]["op"], "replace");
  EXPECT_EQ(json({{"spec", json::object()}}).patch(operations)["spec"]["x"], 2);
}

// The patch is written as text; it must be the bytes json::dump writes for the same operations.
TEST(JsonPatch, WritesWhatNlohmannWouldWrite) {
  const std::string strings[] = {"",
                                 "plain",
                                 "q\"uote",
                                 "back\\slash",
                                 "/a~1b",
                                 "\b\f\n\r\t",
                                 "\x01\x1f",
                                 "\x7f",
                                 "caf\xC3\xA9 \xF0\x9F\x98\x80",
                                 std::string("nul\0byte", 8),
                                 "a value long enough to be checked in blocks, \"quoted\" late"};
  JsonPatch patch;
  json want = json::array();
  EXPECT_EQ(patch.text(), want.dump());
  for (const std::string& value : strings) {
    std::string text;
    AppendJsonString(text, value);
    EXPECT_EQ(text, json(value).dump());
    patch.Add(value, text);
    want.push_back({{"op", "add"}, {"path", value}, {"value", value}});
  }
  patch.Replace("/spec/replicas", "3");
  want.push_back({{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 3}});
  patch.Remove("/spec/template/spec/hostAliases/0");
  want.push_back({{"op", "remove"}, {"path", "/spec/template/spec/hostAliases/0"}});
  patch.Test("/spec/replicas", "3");
  want.push_back({{"op", "test"}, {"path", "/spec/replicas"}, {"value", 3}});
  EXPECT_EQ(patch.size(), std::size(strings) + 3);
  EXPECT_EQ(patch.text(), want.dump());
  EXPECT_EQ(patch.Release(), want.dump());
  EXPECT_TRUE(patch.empty());
  EXPECT_EQ(patch.text(), "[]");
}

TEST(JsonPatch, RefusesInvalidUtf8AsDumpDoes) {
  std::string text;
  EXPECT_THROW(AppendJsonString(text, "bad \xff"), json::type_error);
  EXPECT_THROW(json("bad \xff").dump(), json::type_error);
}

}  // namespace
}  // namespace seedhop::kube
