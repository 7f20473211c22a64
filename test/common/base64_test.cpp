#include "common/encoding/base64.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace seedhop::encoding
