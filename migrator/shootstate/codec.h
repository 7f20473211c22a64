// Byte codecs the state copy needs: base64 (Kubernetes []byte fields), SHA-256 and zlib.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace seedhop::migrator::shootstate {

// Standard base64 with padding (RFC 4648 section 4), as Kubernetes writes []byte.
std::string Base64Encode(std::string_view data);
// Returns nullopt unless `text` is canonical padded base64 (no whitespace).
std::optional<std::string> Base64Decode(std::string_view text);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// zlib stream (RFC 1950) of `data` at the default level.
Result<std::string> Deflate(std::string_view data);
// Inverse of Deflate. Fails on a corrupt stream or output beyond `max_bytes` (a bound against
// decompression bombs).
Result<std::string> Inflate(std::string_view data, size_t max_bytes);

}  // namespace seedhop::migrator::shootstate
