#include "common/encoding/base64.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace seedhop::encoding {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain));
  }
}

TEST(Base64, DecodeIsStrictButSkipsLineBreaksAndMissingPadding) {
  EXPECT_EQ(Base64Decode("aGVsbG8"), std::optional<std::string>("hello"));  // padding optional
  EXPECT_EQ(Base64Decode("aGVs\nbG8h\r\n"), std::optional<std::string>("hello!"));
  EXPECT_EQ(Base64Decode("Zm9v*"), std::nullopt);
  EXPECT_EQ(Base64Decode("aGVsbG8-"), std::nullopt);   // base64url is not what Kubernetes sends
  EXPECT_EQ(Base64Decode("aGVsbG8=x"), std::nullopt);  // data after padding
  EXPECT_EQ(Base64Decode("aGVs bG8="), std::nullopt);  // space
  EXPECT_EQ(Base64Decode("a"), std::nullopt);          // truncated quantum
  EXPECT_EQ(Base64Decode("aGVsbG8=="), std::nullopt);  // wrong padding length
}

TEST(Base64, RoundTripsBinary) {
  std::string binary;
  for (int i = 0; i < 256; ++i)
    binary.push_back(static_cast<char>(i));
  EXPECT_EQ(Base64Decode(Base64Encode(binary)), binary);
}

// Base64 by its definition (RFC 4648 section 4): the bits of the data, six at a time, zero-filled
// at the end, then '=' up to a multiple of four.
std::string ReferenceEncode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bits;
  for (char c : data) {
    for (int bit = 7; bit >= 0; --bit)
      bits += (static_cast<unsigned char>(c) >> bit & 1) != 0 ? '1' : '0';
  }
  while (bits.size() % 6 != 0)
    bits += '0';
  std::string out;
  for (size_t i = 0; i < bits.size(); i += 6)
    out += kAlphabet[std::stoi(bits.substr(i, 6), nullptr, 2)];
  while (out.size() % 4 != 0)
    out += '=';
  return out;
}

// Every 12-bit value in both halves of a group, and every length's padding.
TEST(Base64, EncodesAsTheDefinitionSays) {
  std::string data;
  for (uint32_t v = 0; v < 4096; ++v) {
    uint32_t group = v << 12 | (4095 - v);
    data += static_cast<char>(group >> 16);
    data += static_cast<char>(group >> 8);
    data += static_cast<char>(group);
  }
  EXPECT_EQ(Base64Encode(data), ReferenceEncode(data));
  for (size_t length = 0; length <= 8; ++length) {
    std::string_view prefix = std::string_view(data).substr(3000, length);
    std::string out = "kept ";
    AppendBase64(out, prefix);
    EXPECT_EQ(out, "kept " + ReferenceEncode(prefix)) << "length " << length;
  }
}

}  // namespace
}  // namespace seedhop::encoding
