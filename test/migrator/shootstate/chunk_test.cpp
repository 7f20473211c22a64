#include "migrator/shootstate/chunk.h"

#include <gtest/gtest.h>

#include <random>

#include "migrator/shootstate/codec.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng() & 0xff);
  return out;
}

// A ShootState whose secrets hold `bytes` of incompressible data in total.
json BigState(size_t bytes) {
  json gardener = json::array();
  const size_t per_secret = 64 * 1024;
  for (size_t i = 0; i * per_secret < bytes; ++i) {
    gardener.push_back({{"name", "s" + std::to_string(i)},
                        {"type", "secret"},
                        {"data", {{"data", {{"k", Base64Encode(RandomBytes(per_secret, i))}}}}}});
  }
  return {{"apiVersion", "core.gardener.cloud/v1beta1"},
          {"kind", "ShootState"},
          {"metadata", {{"name", "my-shoot"}, {"namespace", "garden-p"}}},
          {"spec", {{"gardener", gardener}}}};
}

TEST(Codec, Base64RoundTripAndRejectsNonCanonical) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10 x"}) {
    auto decoded = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_FALSE(Base64Decode("aGVsbG8").has_value());
  EXPECT_FALSE(Base64Decode("aGV=bG8=").has_value());
  EXPECT_FALSE(Base64Decode("aGVs bG8=").has_value());
}

TEST(Codec, DeflateRoundTripAndBombBound) {
  std::string text(1 << 20, 'x');
  auto deflated = Deflate(text);
  ASSERT_TRUE(deflated.ok());
  EXPECT_LT(deflated->size(), text.size() / 100);
  auto inflated = Inflate(*deflated, text.size());
  ASSERT_TRUE(inflated.ok());
  EXPECT_EQ(*inflated, text);
  EXPECT_FALSE(Inflate(*deflated, 1000).ok());
  EXPECT_FALSE(Inflate(deflated->substr(0, deflated->size() / 2), text.size()).ok());
  EXPECT_FALSE(Inflate("not zlib", text.size()).ok());
}

TEST(Pack, SmallStateIsStoredWhole) {
  json state = BigState(100 * 1024);
  auto packed = Pack(state, kDefaultMaxObjectBytes);
  ASSERT_TRUE(packed.ok());
  EXPECT_TRUE(packed->parts.empty());
  EXPECT_EQ(packed->shoot_state, state);
  EXPECT_FALSE(IsChunked(packed->shoot_state));
  auto unpacked = Unpack(packed->shoot_state, {});
  ASSERT_TRUE(unpacked.ok());
  EXPECT_EQ(*unpacked, state);
}

TEST(Pack, LargeStateSplitsIntoPartsThatEachFitAndReassemble) {
  json state = BigState(5 * kDefaultMaxObjectBytes);
  auto packed = Pack(state, kDefaultMaxObjectBytes);
  ASSERT_TRUE(packed.ok()) << packed.error().message();
  EXPECT_TRUE(IsChunked(packed->shoot_state));
  EXPECT_GE(packed->parts.size(), 5u);
  EXPECT_EQ(packed->shoot_state["spec"], json::object());
  EXPECT_LE(packed->shoot_state.dump().size(), kDefaultMaxObjectBytes);
  for (size_t i = 0; i < packed->parts.size(); ++i) {
    EXPECT_LE(packed->parts[i].dump().size(), kDefaultMaxObjectBytes) << i;
    EXPECT_EQ(packed->parts[i]["metadata"]["name"], PartName("my-shoot", i));
    EXPECT_EQ(packed->parts[i]["metadata"]["namespace"], "garden-p");
  }
  auto names = ManifestPartNames(packed->shoot_state);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), packed->parts.size());
  // Order of parts does not matter to the reader.
  std::vector<json> reversed(packed->parts.rbegin(), packed->parts.rend());
  auto unpacked = Unpack(packed->shoot_state, reversed);
  ASSERT_TRUE(unpacked.ok()) << unpacked.error().message();
  EXPECT_EQ(*unpacked, state);
}

TEST(Pack, CompressibleStateIsCompressed) {
  json state = BigState(0);
  state["spec"]["gardener"] = json::array();
  for (int i = 0; i < 4000; ++i) {
    state["spec"]["gardener"].push_back(
        {{"name", "secret-" + std::to_string(i)},
         {"type", "secret"},
         {"data", {{"data", {{"k", Base64Encode(std::string(600, 'a'))}}}}}});
  }
  auto packed = Pack(state, kDefaultMaxObjectBytes);
  ASSERT_TRUE(packed.ok());
  EXPECT_TRUE(packed->compressed);
  EXPECT_EQ(packed->parts.size(), 1u);
  auto unpacked = Unpack(packed->shoot_state, packed->parts);
  ASSERT_TRUE(unpacked.ok());
  EXPECT_EQ(*unpacked, state);
}

class Damaged : public ::testing::Test {
 protected:
  void SetUp() override {
    auto packed = Pack(BigState(3 * kDefaultMaxObjectBytes), kDefaultMaxObjectBytes);
    ASSERT_TRUE(packed.ok());
    packed_ = std::move(*packed);
    ASSERT_GE(packed_.parts.size(), 3u);
  }
  PackedState packed_;
};

TEST_F(Damaged, MissingPartIsNamed) {
  auto parts = packed_.parts;
  parts.erase(parts.begin() + 1);
  auto unpacked = Unpack(packed_.shoot_state, parts);
  ASSERT_FALSE(unpacked.ok());
  EXPECT_EQ(unpacked.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(unpacked.error().message().find("part 2 of"), std::string::npos)
      << unpacked.error().message();
  EXPECT_NE(unpacked.error().message().find("missing"), std::string::npos);
}

TEST_F(Damaged, CorruptPartIsDetected) {
  auto parts = packed_.parts;
  std::string payload = *Base64Decode(parts[2]["binaryData"]["part"].get<std::string>());
  payload[payload.size() / 2] ^= 0x01;
  parts[2]["binaryData"]["part"] = Base64Encode(payload);
  auto unpacked = Unpack(packed_.shoot_state, parts);
  ASSERT_FALSE(unpacked.ok());
  EXPECT_NE(unpacked.error().message().find("part 3 of"), std::string::npos);
  EXPECT_NE(unpacked.error().message().find("sha256 mismatch"), std::string::npos);
}

TEST_F(Damaged, TruncatedOrUndecodablePartIsDetected) {
  auto parts = packed_.parts;
  parts[0]["binaryData"]["part"] = "!!!";
  EXPECT_FALSE(Unpack(packed_.shoot_state, parts).ok());
  parts = packed_.parts;
  parts[0].erase("binaryData");
  EXPECT_FALSE(Unpack(packed_.shoot_state, parts).ok());
}

TEST_F(Damaged, PartOfAnotherExportIsDetected) {
  auto other = Pack(BigState(3 * kDefaultMaxObjectBytes + 1000), kDefaultMaxObjectBytes);
  ASSERT_TRUE(other.ok());
  auto parts = packed_.parts;
  parts[0] = other->parts[0];
  auto unpacked = Unpack(packed_.shoot_state, parts);
  ASSERT_FALSE(unpacked.ok());
  EXPECT_EQ(unpacked.error().code(), ErrorCode::kConflict);
  EXPECT_NE(unpacked.error().message().find("another export"), std::string::npos);
}

TEST_F(Damaged, MalformedManifestIsRejected) {
  json state = packed_.shoot_state;
  for (
      const char* manifest :
      {"not json", "{}", R"({"format":"seedhop.io/chunked-v1","encoding":"gzip"})",
       R"({"format":"seedhop.io/chunked-v1","encoding":"zlib","sha256":"x","parts":[]})",
       R"({"format":"seedhop.io/chunked-v1","encoding":"zlib","sha256":"x","parts":[{"name":1}]})"}) {
    state["metadata"]["annotations"][kManifestAnnotation] = manifest;
    EXPECT_FALSE(Unpack(state, packed_.parts).ok()) << manifest;
    EXPECT_FALSE(ManifestPartNames(state).ok()) << manifest;
  }
}

TEST(Pack, RejectsTinyLimit) {
  EXPECT_FALSE(Pack(BigState(10), 1000).ok());
}

}  // namespace
}  // namespace seedhop::migrator::shootstate
