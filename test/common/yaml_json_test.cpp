#include "common/yaml/yaml_json.h"

#include <gtest/gtest.h>

namespace seedhop::yaml {
namespace {

TEST(YamlJson, TypesPlainScalarsAndKeepsQuotedOnesAsStrings) {
  auto documents = ParseDocuments(R"(
a: 3
b: "3"
c: true
d: 'false'
e: 1.5
f: ~
g: 10.0.0.1
h: [1, x]
i: 99999999999999999999999
)",
                                  "inline");
  ASSERT_TRUE(documents.ok()) << documents.error().message();
  ASSERT_EQ(documents->size(), 1u);
  const auto& d = (*documents)[0];
  EXPECT_EQ(d["a"], 3);
  EXPECT_EQ(d["b"], "3");
  EXPECT_EQ(d["c"], true);
  EXPECT_EQ(d["d"], "false");
  EXPECT_EQ(d["e"], 1.5);
  EXPECT_TRUE(d["f"].is_null());
  EXPECT_EQ(d["g"], "10.0.0.1");
  EXPECT_EQ(d["h"], (nlohmann::json{1, "x"}));
  EXPECT_EQ(d["i"], "99999999999999999999999");
}

TEST(YamlJson, SplitsDocumentsAndSkipsEmptyOnes) {
  auto documents = ParseDocuments("a: 1\n---\n---\nb: 2\n", "inline");
  ASSERT_TRUE(documents.ok());
  EXPECT_EQ(documents->size(), 2u);
}

TEST(YamlJson, ErrorsNameTheOriginAndLine) {
  auto documents = ParseDocuments("a: 1\nb: [unclosed\n", "manifests/x.yaml");
  ASSERT_FALSE(documents.ok());
  EXPECT_NE(documents.error().message().find("manifests/x.yaml: line"), std::string::npos)
      << documents.error().message();
  EXPECT_EQ(ReadDocuments("/nonexistent.yaml").error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace seedhop::yaml
