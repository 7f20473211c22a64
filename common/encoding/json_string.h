// Finding where a JSON string's plain content ends, shared by the code that reads JSON strings
// (webhook/json_prune.cpp) and the code that writes them (kube::AppendJsonString).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace seedhop::encoding {

namespace json_string_detail {

// Bytes a JSON string may hold as they are: printable ASCII other than '"' and '\\', and DEL.
inline constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c)
    table[c] = c != '"' && c != '\\';
  return table;
}();

}  // namespace json_string_detail

// Returns the first byte in [begin, end) that a JSON string cannot hold as it is, or `end`:
// '"', '\\', a control byte (below 0x20), or any byte of 0x80 and above (the start of a UTF-8
// sequence, which the caller must check or escape). Checks 16 or 8 bytes at a time. Inline: it
// runs once per string of a review, where a call would cost a noticeable part of the scan.
inline const char* FindJsonStringSpecial(const char* begin, const char* end) {
  const char* p = begin;
#if defined(__SSE2__)
  // SSE2 is x86-64's baseline, so this needs no check of the CPU.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed compare: bytes of 0x80 and above are negative, so "below a space" flags them too.
    __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)),
                     _mm_cmplt_epi8(block, space));
    if (int mask = _mm_movemask_epi8(special); mask != 0)
      return p + std::countr_zero(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighs = 0x8080808080808080;
  // Flags the high bit of each zero byte of `v`. Bytes above a zero byte may be flagged falsely
  // (by its borrow), but never a byte below the first one: the lowest flag is exact.
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    uint64_t special = has_zero(word ^ (kOnes * '"')) | has_zero(word ^ (kOnes * '\\')) |
                       ((word - kOnes * 0x20) & ~word & kHighs) | (word & kHighs);
    if (special != 0) {
      // In memory order, which is the word's low end only on a little-endian machine.
      if constexpr (std::endian::native == std::endian::little)
        return p + std::countr_zero(special) / 8;
      break;
    }
    p += 8;
  }
  while (p != end && json_string_detail::kPlainStringByte[static_cast<unsigned char>(*p)])
    ++p;
  return p;
}

}  // namespace seedhop::encoding
