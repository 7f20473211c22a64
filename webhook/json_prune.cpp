#include "webhook/json_prune.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/encoding/json_string.h"

namespace seedhop::webhook {

namespace {

using nlohmann::json;

// Builds a value and everything in it.
constexpr JsonFilter kWholeValue{"", true, {}};

// How deep Scanner::Skip follows nesting within one skipped value, whatever max_depth says.
constexpr size_t kSkipLevels = 1024;

// The value of the four hex digits at `p`; -1 when they are not.
int HexValue(const char* p) {
  int value = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

// Appends `code` to `out` as UTF-8.
void AppendUtf8(uint32_t code, std::string& out) {
  auto byte = [&out](uint32_t value) { out += static_cast<char>(value); };
  if (code < 0x80) {
    byte(code);
  } else if (code < 0x800) {
    byte(0xC0 | (code >> 6));
    byte(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    byte(0xE0 | (code >> 12));
    byte(0x80 | ((code >> 6) & 0x3F));
    byte(0x80 | (code & 0x3F));
  } else {
    byte(0xF0 | (code >> 18));
    byte(0x80 | ((code >> 12) & 0x3F));
    byte(0x80 | ((code >> 6) & 0x3F));
    byte(0x80 | (code & 0x3F));
  }
}

// The content of the valid string literal `quoted`, escapes decoded as nlohmann's lexer does.
std::string Unquote(std::string_view quoted, bool escaped) {
  std::string_view text = quoted.substr(1, quoted.size() - 2);
  if (!escaped)
    return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    char c = text[++i];
    switch (c) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto code = static_cast<uint32_t>(HexValue(text.data() + i + 1));
        i += 4;
        if (code >= 0xD800 && code <= 0xDBFF) {
          // String() checked that an escaped low surrogate follows.
          auto low = static_cast<uint32_t>(HexValue(text.data() + i + 3));
          i += 6;
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        AppendUtf8(code, out);
        break;
      }
      default:  // '"', '\\', '/'
        out += c;
        break;
    }
  }
  return out;
}

// A recursive-descent scanner over the whole text. Recursion is bounded by max_depth. The
// grammar, the string checks and the number range check follow nlohmann::json's lexer
// (nlohmann/detail/input/lexer.hpp, 3.11: scan_string, scan_number, skip_bom), so that a text is
// accepted here exactly when nlohmann::json::parse accepts it and it holds no NUL byte;
// test/fuzz/admission_fuzz.cpp checks that on every input.
class Scanner {
 public:
  Scanner(std::string_view text, size_t max_depth, std::span<std::string_view> captures)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(max_depth),
        captures_(captures) {}

  PrunedJson Parse(const JsonFilter& filter) {
    PrunedJson out;
    if (end_ - p_ >= 3 && p_[0] == '\xEF' && p_[1] == '\xBB' && p_[2] == '\xBF')
      p_ += 3;
    SkipWhitespace();
    ClearCaptures(filter);
    if (Value(&filter, &out.value)) {
      SkipWhitespace();
      // Stricter than nlohmann's lexer, which reads a NUL byte as the end of the input and
      // ignores what follows.
      if (p_ != end_)
        Fail(JsonPruneError::kSyntax);
    }
    if (error_ != JsonPruneError::kNone) {
      out.value = json();
      out.error = error_;
      out.error_offset = static_cast<size_t>(error_at_ - begin_);
    }
    return out;
  }

 private:
  bool At(char c) const { return p_ != end_ && *p_ == c; }
  bool AtDigit() const { return p_ != end_ && *p_ >= '0' && *p_ <= '9'; }

  bool Fail(JsonPruneError error) {
    if (error_ == JsonPruneError::kNone) {
      error_ = error;
      error_at_ = p_;
    }
    return false;
  }

  static bool IsWhitespace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

  void SkipWhitespace() {
    while (p_ != end_ && IsWhitespace(*p_))
      ++p_;
  }

  // True when `c` is next, after any whitespace. Whitespace is looked for only when `c` is not
  // already there: kube-apiserver sends compact JSON, and a skip at every token was a tenth of
  // the scan. The scanner's other positions (a value's start) skip whitespace the same lazy way.
  bool AtAfterWhitespace(char c) {
    if (At(c))
      return true;
    SkipWhitespace();
    return At(c);
  }

  // Scans one value. With `out`, builds it as `filter` says; without, only validates it.
  bool Value(const JsonFilter* filter, json* out) {
    if (out == nullptr && (filter == nullptr || filter->whole))
      return Skip();
    SkipWhitespace();
    if (p_ == end_)
      return Fail(JsonPruneError::kSyntax);
    if (*p_ == '{')
      return Object(filter, out);
    if (*p_ == '[')
      return Array(out);
    return Scalar(out);
  }

  // Scans the string, literal or number at p_ (which is not the end); builds it into `out` if set.
  bool Scalar(json* out) {
    switch (*p_) {
      case '"':
        return StringValue(out);
      case 't':
        return Literal("true", out, true);
      case 'f':
        return Literal("false", out, false);
      case 'n':
        return Literal("null", out, nullptr);
      default:
        return Number(out);
    }
  }

  // Validates the value at p_ and everything in it, building nothing: what most of a review gets.
  // One loop over the open objects and arrays rather than a call per value, and the strings that
  // most values are scanned inline. Refuses nesting deeper than kSkipLevels within the value.
  bool Skip() {
    // Whether each level opened here is an object. Not cleared: a level's entry is written
    // when it opens, before anything reads it.
    std::array<bool, kSkipLevels> is_object;
    size_t levels = 0;
    while (true) {
      // At a value: the whole one, an element, or a member's after its ':'.
      if (p_ == end_)
        return Fail(JsonPruneError::kSyntax);
      bool more = false;
      if (*p_ == '"') {
        bool escaped;
        if (!String(&escaped))
          return false;
      } else if (*p_ == '{' || *p_ == '[') {
        bool object = *p_ == '{';
        if (levels == kSkipLevels)
          return Fail(JsonPruneError::kTooDeep);
        if (!Open(object ? '}' : ']', &more))
          return false;
        if (more) {
          is_object[levels++] = object;
          if (object && !Key(nullptr, nullptr))
            return false;
          continue;
        }
      } else if (IsWhitespace(*p_)) {
        SkipWhitespace();
        continue;
      } else if (!Scalar(nullptr)) {
        return false;
      }
      // After a value: close what ends here, or go on to the next element or member.
      while (levels > 0) {
        bool object = is_object[levels - 1];
        if (!Next(object ? '}' : ']', &more))
          return false;
        if (more) {
          if (object && !Key(nullptr, nullptr))
            return false;
          break;
        }
        --levels;
      }
      if (levels == 0)
        return true;
    }
  }

  // Scans a member's name and the ':' after it, whitespace around them. Sets *quoted to the name
  // as written (quotes included) and *escaped when it holds an escape, where they are not null.
  // Always inlined, as String is: a call per member cost more than Skip saves.
  [[gnu::always_inline]] bool Key(std::string_view* quoted, bool* escaped) {
    if (!AtAfterWhitespace('"'))
      return Fail(JsonPruneError::kSyntax);
    const char* start = p_;
    bool has_escape = false;
    if (!String(&has_escape))
      return false;
    if (quoted != nullptr) {
      *quoted = std::string_view(start, static_cast<size_t>(p_ - start));
      *escaped = has_escape;
    }
    if (!AtAfterWhitespace(':'))
      return Fail(JsonPruneError::kSyntax);
    ++p_;
    return true;
  }

  // Enters the object or array at p_, ended by `close`. Sets *more when it is not empty.
  bool Open(char close, bool* more) {
    if (++depth_ > max_depth_)
      return Fail(JsonPruneError::kTooDeep);
    ++p_;
    *more = !AtAfterWhitespace(close);
    if (!*more)
      Close();
    return true;
  }

  void Close() {
    ++p_;
    --depth_;
  }

  // After a member or an element: sets *more when a ',' follows; leaves on `close`.
  bool Next(char close, bool* more) {
    *more = AtAfterWhitespace(',');
    if (*more) {
      ++p_;
      return true;
    }
    if (!At(close))
      return Fail(JsonPruneError::kSyntax);
    Close();
    return true;
  }

  // With `out`, builds the members `filter` selects (all of them when it is `whole`) into `out`;
  // otherwise validates, capturing what `filter` says to capture.
  bool Object(const JsonFilter* filter, json* out) {
    if (out != nullptr)
      *out = json::object();
    bool selective = filter != nullptr && !filter->whole;
    bool more;
    if (!Open('}', &more))
      return false;
    while (more) {
      std::string_view quoted;
      bool escaped = false;
      if (!Key(&quoted, &escaped))
        return false;
      const JsonFilter* member = nullptr;
      json* slot = nullptr;
      if (out != nullptr && filter->whole) {
        member = filter;
        slot = &(*out)[Unquote(quoted, escaped)];
      } else if (selective) {
        member = Find(*filter, quoted, escaped);
        if (member != nullptr && member->capture < 0 && out != nullptr)
          slot = &(*out)[std::string(member->name)];
      }
      SkipWhitespace();
      const char* value_start = p_;
      // operator[] on a repeated name returns the earlier value, which Value overwrites: the
      // last one wins. Captures inside it are cleared for the same reason.
      if (selective && member != nullptr)
        ClearCaptures(*member);
      if (!Value(member, slot))
        return false;
      if (member != nullptr && member->capture >= 0) {
        captures_[static_cast<size_t>(member->capture)] =
            std::string_view(value_start, static_cast<size_t>(p_ - value_start));
      }
      if (!Next('}', &more))
        return false;
    }
    return true;
  }

  // Marks everything `filter` captures inside its value as absent.
  void ClearCaptures(const JsonFilter& filter) {
    if (filter.whole)
      return;
    for (const JsonFilter& member : filter.members) {
      if (member.capture >= 0)
        captures_[static_cast<size_t>(member.capture)] = {};
      ClearCaptures(member);
    }
  }

  // The member filter for the quoted key `quoted`, or null when `filter` does not select it.
  static const JsonFilter* Find(const JsonFilter& filter, std::string_view quoted, bool escaped) {
    std::string decoded;
    std::string_view key = quoted.substr(1, quoted.size() - 2);
    if (escaped) {
      decoded = Unquote(quoted, true);
      key = decoded;
    }
    for (const JsonFilter& member : filter.members) {
      if (member.name == key)
        return &member;
    }
    return nullptr;
  }

  // With `out`, builds the array whole; otherwise validates it.
  bool Array(json* out) {
    if (out != nullptr)
      *out = json::array();
    bool more;
    if (!Open(']', &more))
      return false;
    while (more) {
      json* element = out != nullptr ? &out->emplace_back() : nullptr;
      if (!Value(&kWholeValue, element) || !Next(']', &more))
        return false;
    }
    return true;
  }

  bool Literal(std::string_view word, json* out, json value) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return Fail(JsonPruneError::kSyntax);
    }
    p_ += word.size();
    if (out != nullptr)
      *out = std::move(value);
    return true;
  }

  bool StringValue(json* out) {
    const char* start = p_;
    bool escaped = false;
    if (!String(&escaped))
      return false;
    if (out != nullptr)
      *out = Unquote(std::string_view(start, static_cast<size_t>(p_ - start)), escaped);
    return true;
  }

  // Sets *escaped when the string holds a backslash escape.
  [[gnu::always_inline]] bool String(bool* escaped) {
    ++p_;
    while (true) {
      p_ = encoding::FindJsonStringSpecial(p_, end_);
      if (p_ == end_)
        return Fail(JsonPruneError::kSyntax);
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        *escaped = true;
        if (!Escape())
          return false;
      } else if (c < 0x20 || !Utf8Sequence()) {
        return Fail(JsonPruneError::kSyntax);
      }
    }
  }

  bool Escape() {
    ++p_;
    if (p_ == end_)
      return Fail(JsonPruneError::kSyntax);
    switch (*p_) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        ++p_;
        return true;
      case 'u':
        break;
      default:
        return Fail(JsonPruneError::kSyntax);
    }
    ++p_;
    int first = Hex4();
    if (first < 0)
      return Fail(JsonPruneError::kSyntax);
    if (first >= 0xDC00 && first <= 0xDFFF)
      return Fail(JsonPruneError::kSyntax);  // a low surrogate must follow a high one
    if (first < 0xD800 || first > 0xDBFF)
      return true;
    if (!At('\\') || end_ - p_ < 2 || p_[1] != 'u')
      return Fail(JsonPruneError::kSyntax);  // a high surrogate must be followed by a low one
    p_ += 2;
    int second = Hex4();
    if (second < 0xDC00 || second > 0xDFFF)
      return Fail(JsonPruneError::kSyntax);
    return true;
  }

  // Reads four hex digits; -1 when they are not.
  int Hex4() {
    if (end_ - p_ < 4)
      return -1;
    int value = HexValue(p_);
    p_ += 4;
    return value;
  }

  // Advances over one well-formed UTF-8 sequence of two to four bytes (RFC 3629, the byte ranges
  // of nlohmann's scan_string); false when the bytes at p_ are not one.
  bool Utf8Sequence() {
    auto byte = [this](size_t i) { return p_ + i < end_ ? static_cast<unsigned char>(p_[i]) : 0u; };
    auto in = [&byte](size_t i, unsigned lo, unsigned hi) {
      return byte(i) >= lo && byte(i) <= hi;
    };
    unsigned lead = byte(0);
    size_t length;
    bool ok;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      ok = in(1, 0x80, 0xBF);
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      unsigned lo = lead == 0xE0 ? 0xA0 : 0x80;
      unsigned hi = lead == 0xED ? 0x9F : 0xBF;
      ok = in(1, lo, hi) && in(2, 0x80, 0xBF);
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      unsigned lo = lead == 0xF0 ? 0x90 : 0x80;
      unsigned hi = lead == 0xF4 ? 0x8F : 0xBF;
      ok = in(1, lo, hi) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF);
    } else {
      return false;
    }
    if (ok)
      p_ += length;
    return ok;
  }

  // With `out`, builds the number as nlohmann's lexer does: without sign or fraction an unsigned
  // integer, with a sign a signed one, a double when it has a fraction or exponent or fits neither.
  bool Number(json* out) {
    const char* start = p_;
    bool negative = At('-');
    if (negative)
      ++p_;
    if (At('0')) {
      ++p_;
    } else if (AtDigit()) {
      while (AtDigit())
        ++p_;
    } else {
      return Fail(JsonPruneError::kSyntax);
    }
    const char* digits_end = p_;
    bool integer = true;
    if (At('.')) {
      integer = false;
      ++p_;
      if (!AtDigit())
        return Fail(JsonPruneError::kSyntax);
      while (AtDigit())
        ++p_;
    }
    if (At('e') || At('E')) {
      integer = false;
      ++p_;
      if (At('+') || At('-'))
        ++p_;
      if (!AtDigit())
        return Fail(JsonPruneError::kSyntax);
      while (AtDigit())
        ++p_;
    }
    const char* digits_start = start + (negative ? 1 : 0);
    if (integer && digits_end - digits_start <= 18) {  // fits int64_t
      if (out != nullptr) {
        int64_t value = 0;
        for (const char* d = digits_start; d != digits_end; ++d)
          value = value * 10 + (*d - '0');
        if (negative) {
          *out = static_cast<json::number_integer_t>(-value);
        } else {
          *out = static_cast<json::number_unsigned_t>(value);
        }
      }
      return true;
    }
    std::string token(start, p_);
    if (integer && out != nullptr) {
      errno = 0;
      if (negative) {
        long long value = std::strtoll(token.c_str(), nullptr, 10);
        if (errno == 0) {
          *out = static_cast<json::number_integer_t>(value);
          return true;
        }
      } else {
        unsigned long long value = std::strtoull(token.c_str(), nullptr, 10);
        if (errno == 0) {
          *out = static_cast<json::number_unsigned_t>(value);
          return true;
        }
      }
    }
    // nlohmann reads what fits neither int64_t nor uint64_t with strtod, and refuses infinity.
    double value = std::strtod(token.c_str(), nullptr);
    if (!std::isfinite(value)) {
      p_ = start;
      return Fail(JsonPruneError::kNumberOutOfRange);
    }
    if (out != nullptr)
      *out = value;
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  size_t max_depth_;
  size_t depth_ = 0;
  std::span<std::string_view> captures_;
  JsonPruneError error_ = JsonPruneError::kNone;
  const char* error_at_ = nullptr;
};

}  // namespace

PrunedJson ParsePrunedJson(std::string_view text, const JsonFilter& filter, size_t max_depth,
                           std::span<std::string_view> captures) {
  return Scanner(text, max_depth, captures).Parse(filter);
}

std::optional<std::string> CapturedString(std::string_view capture) {
  if (!capture.starts_with('"'))
    return std::nullopt;
  return Unquote(capture, capture.find('\\') != std::string_view::npos);
}

}  // namespace seedhop::webhook
