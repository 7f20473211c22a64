#include "common/encoding/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace seedhop::encoding {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}
}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  AppendBase64(out, data);
  return out;
}

void AppendBase64(std::string& out, std::string_view data) {
  // The two characters of each 12-bit value: a group of three bytes is two lookups and two
  // stores rather than four of each (AdmissionResponse.patch is encoded for every request).
  static constexpr std::array<std::array<char, 2>, 4096> kPairs = [] {
    std::array<std::array<char, 2>, 4096> pairs{};
    for (size_t v = 0; v < pairs.size(); ++v)
      pairs[v] = {kAlphabet[v >> 6], kAlphabet[v & 63]};
    return pairs;
  }();
  // Written through a pointer into the sized string: appending character by character cost
  // more than the encoding (a call and a capacity check per byte).
  size_t start = out.size();
  out.resize(start + (data.size() + 2) / 3 * 4, '=');
  char* o = out.data() + start;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    std::memcpy(o, kPairs[n >> 12].data(), 2);
    std::memcpy(o + 2, kPairs[n & 0xFFF].data(), 2);
    o += 4;
  }
  if (i < data.size()) {
    uint32_t n = uint8_t(data[i]) << 16;
    if (i + 1 < data.size())
      n |= uint8_t(data[i + 1]) << 8;
    *o++ = kAlphabet[(n >> 18) & 63];
    *o++ = kAlphabet[(n >> 12) & 63];
    if (i + 1 < data.size())
      *o = kAlphabet[(n >> 6) & 63];
  }
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t accumulator = 0;
  int bits = 0;
  size_t symbols = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r')
      continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0)
      return std::nullopt;  // data after padding
    int value = Value(c);
    if (value < 0)
      return std::nullopt;
    ++symbols;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  if (symbols % 4 == 1)
    return std::nullopt;  // a lone symbol carries no whole byte
  if (padding > 0 && (symbols + padding) % 4 != 0)
    return std::nullopt;
  if (padding > 2)
    return std::nullopt;
  return out;
}

}  // namespace seedhop::encoding
