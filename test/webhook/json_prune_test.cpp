#include "webhook/json_prune.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace seedhop::webhook {
namespace {

using nlohmann::json;

constexpr JsonFilter kWhole{"", true, {}};

// Equal as values and of the same type everywhere: json's operator== calls the unsigned 3 and the
// signed 3 equal, but the policy tells them apart (is_number_unsigned).
::testing::AssertionResult SameJson(const json& got, const json& want) {
  if (got != want)
    return ::testing::AssertionFailure() << got.dump() << " != " << want.dump();
  if (got.type() != want.type()) {
    return ::testing::AssertionFailure()
           << got.dump() << ": type " << got.type_name() << ", want " << want.type_name();
  }
  if (got.is_structured()) {
    auto g = got.begin();
    for (auto w = want.begin(); w != want.end(); ++w, ++g) {
      if (auto same = SameJson(*g, *w); !same)
        return same;
    }
  }
  return ::testing::AssertionSuccess();
}

// Texts on both sides of every rule of the grammar, the string checks and the number range.
std::vector<std::string> Texts() {
  return {
      // structure
      "{}", "[]", " {\"a\" : [1, {}, []] }\r\n\t", "{", "}", "[1,]", "[,1]", "{\"a\":1,}",
      "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}", "[1 2]", "{} {}", "", " ", "\xEF\xBB\xBF{}",
      " \xEF\xBB\xBF{}", "\xEF\xBB{}", std::string("{}\0", 3), "{}x",
      // literals
      "true", "false", "null", "tru", "nulll", "True", "[nan]",
      // numbers
      "0", "-0", "12", "-12", "1.5", "1e5", "1E+5", "1e-5", "-0.0e0", "01", "-", "+1", ".5", "1.",
      "1e", "1e+", "0x1", "9223372036854775807", "9223372036854775808", "18446744073709551616",
      "-9223372036854775809", "1e308", "1e309", "-1e309", "1e-400", std::string(308, '9'),
      std::string(309, '9'), "-" + std::string(309, '9'), "0." + std::string(400, '0') + "1",
      // strings and escapes
      "\"\"", "\"a\\\"b\"", "\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u0000\"",
      "\"\\uD83D\\uDE00\"", "\"\\uD83D\"", "\"\\uD83Dx\"", "\"\\uD83D\\u0041\"", "\"\\uDE00\"",
      "\"\\u12\"", "\"\\u12G4\"", "\"\\x\"", "\"\\", "\"abc", "\"a\tb\"", "\"a\nb\"",
      std::string("\"a\0b\"", 5), "\"\x7f\"",
      // UTF-8: valid sequences at the edges of each range, then ill-formed ones
      "\"\xC2\x80\xDF\xBF\"", "\"\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\"",
      "\"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"", "\"\xC0\x80\"", "\"\xC1\xBF\"", "\"\xE0\x9F\xBF\"",
      "\"\xED\xA0\x80\"", "\"\xF0\x8F\xBF\xBF\"", "\"\xF4\x90\x80\x80\"", "\"\xF5\x80\x80\x80\"",
      "\"\x80\"", "\"\xC2\"", "\"\xE1\x80\"", "\"\xF1\x80\x80\"", "\xC2\x80"};
}

TEST(JsonPruneTest, AcceptsExactlyWhatNlohmannAccepts) {
  for (const std::string& text : Texts()) {
    SCOPED_TRACE(json(text).dump(-1, ' ', true, json::error_handler_t::replace));
    PrunedJson pruned = ParsePrunedJson(text, kWhole, 128);
    // One documented difference: nlohmann stops at a NUL byte after the value.
    bool want = json::accept(text) && text.find('\0') == std::string::npos;
    EXPECT_EQ(pruned.error == JsonPruneError::kNone, want);
    if (want) {
      EXPECT_TRUE(SameJson(pruned.value, json::parse(text)));
    }
  }
}

// Long strings are checked eight bytes at a time: every kind of byte at every offset of a word.
TEST(JsonPruneTest, ChecksEveryByteOfLongStrings) {
  for (std::string special : {"\\n", "\\u00e9", "\x01", "\x1f", " ", "\x7f", "\x80", "\xc3\xa9",
                              "\xc3", "\xff", "\"", "\\"}) {
    for (size_t at = 0; at < 17; ++at) {
      std::string text = "\"" + std::string(at, 'a') + special + std::string(20, 'b') + "\"";
      SCOPED_TRACE(json(text).dump(-1, ' ', true, json::error_handler_t::replace));
      PrunedJson pruned = ParsePrunedJson(text, kWhole, 128);
      ASSERT_EQ(pruned.error == JsonPruneError::kNone, json::accept(text));
      if (pruned.error == JsonPruneError::kNone) {
        EXPECT_TRUE(SameJson(pruned.value, json::parse(text)));
      }
    }
  }
}

TEST(JsonPruneTest, TellsNumbersOutOfRangeFromSyntaxErrors) {
  EXPECT_EQ(ParsePrunedJson("[1, 1e400]", kWhole, 128).error, JsonPruneError::kNumberOutOfRange);
  EXPECT_EQ(ParsePrunedJson(std::string(400, '1'), kWhole, 128).error,
            JsonPruneError::kNumberOutOfRange);
  PrunedJson syntax = ParsePrunedJson("[1, 2, x]", kWhole, 128);
  EXPECT_EQ(syntax.error, JsonPruneError::kSyntax);
  EXPECT_EQ(syntax.error_offset, 7u);
  EXPECT_TRUE(syntax.value.is_null());
}

TEST(JsonPruneTest, LimitsNestingOfObjectsAndArrays) {
  std::string arrays = std::string(3, '[') + std::string(3, ']');
  EXPECT_EQ(ParsePrunedJson(arrays, kWhole, 3).error, JsonPruneError::kNone);
  EXPECT_EQ(ParsePrunedJson(arrays, kWhole, 2).error, JsonPruneError::kTooDeep);
  EXPECT_EQ(ParsePrunedJson(R"({"a":[{"b":1}]})", kWhole, 2).error, JsonPruneError::kTooDeep);
  EXPECT_EQ(ParsePrunedJson(R"({"a":"[[[[[[[["})", kWhole, 1).error, JsonPruneError::kNone)
      << "brackets inside strings do not nest";
}

constexpr JsonFilter kInner[] = {{"keep", true}};
constexpr JsonFilter kMembers[] = {{"name", true}, {"inner", false, kInner}, {"empty", false, {}}};
constexpr JsonFilter kFilter{"", false, kMembers};

TEST(JsonPruneTest, BuildsOnlySelectedMembers) {
  PrunedJson pruned = ParsePrunedJson(
      R"({"name":"n","other":{"big":[1,2,3]},"inner":{"keep":[1,{"x":null}],"drop":2},)"
      R"("empty":{"a":1}})",
      kFilter, 128);
  ASSERT_EQ(pruned.error, JsonPruneError::kNone);
  EXPECT_EQ(pruned.value,
            json::parse(R"({"name":"n","inner":{"keep":[1,{"x":null}]},"empty":{}})"));
}

TEST(JsonPruneTest, BuildsValuesThatAreNotObjectsWhole) {
  PrunedJson pruned =
      ParsePrunedJson(R"({"inner":[{"drop":1}],"empty":"text","name":{"a":1}})", kFilter, 128);
  ASSERT_EQ(pruned.error, JsonPruneError::kNone);
  EXPECT_EQ(pruned.value, json::parse(R"({"inner":[{"drop":1}],"empty":"text","name":{"a":1}})"));
  EXPECT_EQ(ParsePrunedJson("[1]", kFilter, 128).value, json::array({1}));
}

TEST(JsonPruneTest, LastDuplicateWinsAndEscapedNamesMatch) {
  PrunedJson pruned = ParsePrunedJson(
      R"({"inner":{"keep":1},"name":"a\"b","inner":{"drop":2},"n\u0061me":"escaped"})", kFilter,
      128);
  ASSERT_EQ(pruned.error, JsonPruneError::kNone);
  EXPECT_EQ(pruned.value, (json{{"inner", json::object()}, {"name", "escaped"}}));
}

// Selected values are built by the scanner, not by nlohmann's parser: every kind of value, nested,
// must come out as json::parse builds it, down to the number types.
TEST(JsonPruneTest, BuildsSelectedValuesAsNlohmannDoes) {
  const std::string values[] = {
      R"([{"ip":"10.0.0.1","hostnames":["a.svc","a.svc.cluster.local"]},{"ip":"::1"}])",
      R"([{"ip":"a\"b\\c\/d\b\f\n\r\t","hostnames":["\u0041\u00e9\u20ac\uD83D\uDE00"]}])",
      R"(["\u0000x", "\u007f\u0080\u07ff\u0800\uffff\uDBFF\uDFFF", "caf\u00E9"])",
      "[\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"]",
      R"({"ip":"1","ip":"2","hostnames":["x"],"hostnames":[],"\u0069p":"3"})",
      R"([{"a":{"b":{"a":1,"a":[2]}},"a":{"c":null}}])",
      R"([0,-0,1,-1,123456789012345678,-123456789012345678,1234567890123456789])",
      R"([-1234567890123456789,9223372036854775807,9223372036854775808,-9223372036854775808])",
      R"([18446744073709551615,18446744073709551616,-9223372036854775809,1e2,-0.0,1.5E-3])",
      R"([true,false,null,[],{},[[[{"x":[{}]}]]]])",
      R"({"start":3})",
      "7",
      "-0",
      "\"plain\"",
  };
  static constexpr JsonFilter kSelected[] = {{"v", true}};
  static constexpr JsonFilter kOuter{"", false, kSelected};
  for (const std::string& value : values) {
    SCOPED_TRACE(value);
    std::string text = R"({"skip":{"v":1},"v":)" + value + "}";
    PrunedJson pruned = ParsePrunedJson(text, kOuter, 128);
    ASSERT_EQ(pruned.error, JsonPruneError::kNone);
    EXPECT_TRUE(SameJson(pruned.value, json::parse(R"({"v":)" + value + "}")));
  }
}

// Values nobody selected are validated by a loop of their own (Scanner::Skip): the same texts must
// be accepted there, at the top of a skipped member and inside skipped arrays and objects.
TEST(JsonPruneTest, SkipsExactlyWhatNlohmannAccepts) {
  for (const std::string& text : Texts()) {
    for (const std::string& wrapped :
         {R"({"other":)" + text + "}", R"({"other":[1,)" + text + R"(,{"a":)" + text + "}]}",
          R"({"name":"n","other":{"a":[)" + text + R"(],"b":)" + text + "}}"}) {
      SCOPED_TRACE(json(wrapped).dump(-1, ' ', true, json::error_handler_t::replace));
      bool want = json::accept(wrapped) && wrapped.find('\0') == std::string::npos;
      EXPECT_EQ(ParsePrunedJson(wrapped, kFilter, 128).error == JsonPruneError::kNone, want);
    }
  }
  std::string deep = R"({"other":)" + std::string(5, '[') + std::string(5, ']') + "}";
  EXPECT_EQ(ParsePrunedJson(deep, kFilter, 6).error, JsonPruneError::kNone);
  EXPECT_EQ(ParsePrunedJson(deep, kFilter, 5).error, JsonPruneError::kTooDeep);
  std::string deeper_than_skip_follows =
      R"({"other":)" + std::string(1025, '[') + std::string(1025, ']') + "}";
  EXPECT_EQ(ParsePrunedJson(deeper_than_skip_follows, kFilter, 2000).error,
            JsonPruneError::kTooDeep);
}

TEST(JsonPruneTest, ValidatesSkippedParts) {
  EXPECT_EQ(ParsePrunedJson(R"({"other":[1,]})", kFilter, 128).error, JsonPruneError::kSyntax);
  EXPECT_EQ(ParsePrunedJson("{\"other\":\"\xC0\x80\"}", kFilter, 128).error,
            JsonPruneError::kSyntax);
  EXPECT_EQ(ParsePrunedJson(R"({"inner":{"drop":1e999}})", kFilter, 128).error,
            JsonPruneError::kNumberOutOfRange);
  EXPECT_EQ(ParsePrunedJson(R"({"other":[[[1]]]})", kFilter, 3).error, JsonPruneError::kTooDeep);
}

// Captures: a member read as text, an object captured with a member inside it, and a built member
// beside them.
enum : int { kCapturedName, kCapturedMeta, kCapturedUid, kCaptureCount };
constexpr JsonFilter kMetaMembers[] = {{"uid", true, {}, kCapturedUid}};
constexpr JsonFilter kCapturingMembers[] = {{"name", true, {}, kCapturedName},
                                            {"meta", false, kMetaMembers, kCapturedMeta},
                                            {"built", true}};
constexpr JsonFilter kCapturing{"", false, kCapturingMembers};

TEST(JsonPruneTest, CapturesMembersAsTextWithoutBuildingThem) {
  std::string text = R"({"name" : "a\nb" ,"meta":{"uid":7,"x":[1]},"built":[true],"other":1})";
  std::array<std::string_view, kCaptureCount> captures;
  PrunedJson pruned = ParsePrunedJson(text, kCapturing, 128, captures);
  ASSERT_EQ(pruned.error, JsonPruneError::kNone);
  EXPECT_EQ(pruned.value, json::parse(R"({"built":[true]})"));
  EXPECT_EQ(captures[kCapturedName], R"("a\nb")");
  EXPECT_EQ(captures[kCapturedMeta], R"({"uid":7,"x":[1]})");
  EXPECT_EQ(captures[kCapturedUid], "7");
  // Views into the text, not copies.
  EXPECT_EQ(captures[kCapturedName].data(), text.data() + text.find('"', 8));
}

// The scanner looks for whitespace only where the expected byte is not already there, so
// whitespace is tried at every position of a text with every kind of token: where nlohmann
// accepts it, the built values and the captures are those of the compact text; elsewhere (inside
// a token) it is refused as nlohmann refuses it.
TEST(JsonPruneTest, WhitespaceBetweenAnyTwoTokensChangesNothing) {
  const std::string compact =
      R"({"name":"a\nb","meta":{"uid":7,"x":[1,-2.5e3,true,false,null,"s",{},[],{"k":"v"}]},)"
      R"("built":[true,{"z":[]}],"other":{"deep":[[1],{"e":""}]}})";
  constexpr JsonFilter kSkipAll{"", false, {}};
  const JsonFilter* filters[] = {&kWhole, &kCapturing, &kSkipAll};
  for (const JsonFilter* filter : filters) {
    std::array<std::string_view, kCaptureCount> want_captures;
    PrunedJson want = ParsePrunedJson(compact, *filter, 128, want_captures);
    ASSERT_EQ(want.error, JsonPruneError::kNone);
    for (size_t at = 0; at <= compact.size(); ++at) {
      for (std::string_view space : {" ", "\t\r\n "}) {
        std::string text = compact.substr(0, at) + std::string(space) + compact.substr(at);
        SCOPED_TRACE(text);
        std::array<std::string_view, kCaptureCount> captures;
        PrunedJson got = ParsePrunedJson(text, *filter, 128, captures);
        bool accepted = json::accept(text);
        ASSERT_EQ(got.error == JsonPruneError::kNone, accepted);
        if (!accepted)
          continue;
        // A space inside a string is content, not whitespace: nlohmann's value changes too.
        if (json::parse(text) != json::parse(compact))
          continue;
        EXPECT_TRUE(SameJson(got.value, want.value));
        for (size_t i = 0; i < kCaptureCount; ++i) {
          ASSERT_EQ(captures[i].empty(), want_captures[i].empty()) << "capture " << i;
          if (!captures[i].empty()) {
            // The value's own text: CapturedObject and CapturedNothing read its first bytes.
            EXPECT_EQ(captures[i].front(), want_captures[i].front()) << "capture " << i;
            EXPECT_EQ(captures[i].back(), want_captures[i].back()) << "capture " << i;
            EXPECT_EQ(json::parse(captures[i]), json::parse(want_captures[i])) << "capture " << i;
          }
        }
      }
    }
  }
}

TEST(JsonPruneTest, CapturesAsTheLastOccurrenceHasThem) {
  struct Case {
    std::string text;
    std::array<std::string_view, kCaptureCount> want;
  };
  const Case cases[] = {
      {R"({})", {"", "", ""}},
      {R"({"name":"a","name":null})", {"null", "", ""}},
      {R"({"meta":{"uid":1},"meta":{"other":2}})", {"", R"({"other":2})", ""}},
      {R"({"meta":{"uid":1},"meta":3})", {"", "3", ""}},
      {R"({"meta":{"uid":1,"uid":"u"}})", {"", R"({"uid":1,"uid":"u"})", R"("u")"}},
      {R"({"meta":[{"uid":1}]})", {"", R"([{"uid":1}])", ""}},
      {R"({"other":{"name":"n","uid":1}})", {"", "", ""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    // Whatever the array held before is overwritten.
    std::array<std::string_view, kCaptureCount> captures = {"stale", "stale", "stale"};
    ASSERT_EQ(ParsePrunedJson(c.text, kCapturing, 128, captures).error, JsonPruneError::kNone);
    EXPECT_EQ(captures, c.want);
    // Each verdict agrees with nlohmann's last-one-wins reading of the same text.
    json parsed = json::parse(c.text);
    EXPECT_EQ(CapturedNothing(captures[kCapturedName]),
              !parsed.contains("name") || parsed["name"].is_null());
    EXPECT_EQ(CapturedObject(captures[kCapturedMeta]),
              parsed.contains("meta") && parsed["meta"].is_object());
  }
}

TEST(JsonPruneTest, CapturedStringsDecodeAsNlohmannDecodes) {
  for (std::string_view text : {R"("")", R"("plain")", R"("a\"b\\c\/d\b\f\n\r\t")",
                                R"("\u0041\u00e9\u20ac\uD83D\uDE00\u0000")", "\"\xC3\xA9\""}) {
    SCOPED_TRACE(text);
    auto decoded = CapturedString(text);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, json::parse(text).get<std::string>());
  }
  for (std::string_view text : {"null", "1", "true", "{}", R"(["a"])"})
    EXPECT_FALSE(CapturedString(text).has_value()) << text;
}

}  // namespace
}  // namespace seedhop::webhook
