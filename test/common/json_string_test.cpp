#include "common/encoding/json_string.h"

#include <gtest/gtest.h>

#include <string>

namespace seedhop::encoding {
namespace {

// What FindJsonStringSpecial must return, byte by byte from the definition.
const char* FirstSpecialByte(const char* begin, const char* end) {
  for (const char* p = begin; p != end; ++p) {
    auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
      return p;
  }
  return end;
}

// Every byte value at every position of texts from 0 to 40 bytes: the 16-byte blocks, the 8-byte
// words and the bytes after them each find it, and nothing before it is taken for it.
TEST(FindJsonStringSpecial, FindsTheFirstSpecialByteWhereverItIs) {
  for (size_t length = 0; length <= 40; ++length) {
    std::string text(length, 'a');
    EXPECT_EQ(FindJsonStringSpecial(text.data(), text.data() + length), text.data() + length)
        << "length " << length;
    for (size_t position = 0; position < length; ++position) {
      for (int byte = 0; byte < 256; ++byte) {
        text[position] = static_cast<char>(byte);
        // A second special byte later must not hide the first one.
        if (position + 3 < length)
          text[position + 3] = '"';
        const char* end = text.data() + length;
        ASSERT_EQ(FindJsonStringSpecial(text.data(), end), FirstSpecialByte(text.data(), end))
            << "length " << length << ", byte " << byte << " at " << position;
        text.assign(length, 'a');
      }
    }
  }
}

TEST(FindJsonStringSpecial, LooksOnlyInsideTheRange) {
  std::string text = "0123456789abcdefghijklmnopqrstuv\"";
  const char* end = text.data() + text.size() - 1;  // the quote is just outside
  EXPECT_EQ(FindJsonStringSpecial(text.data(), end), end);
  EXPECT_EQ(FindJsonStringSpecial(text.data() + 5, text.data() + text.size()), end);
}

}  // namespace
}  // namespace seedhop::encoding
