// Standard base64 (RFC 4648 section 4), as Kubernetes uses it for []byte fields (caBundle,
// AdmissionResponse.patch) and as the emulator uses it for opaque continue tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace seedhop::emulator {

std::string Base64Encode(std::string_view data);
// Returns nullopt for characters outside the alphabet; whitespace is skipped, padding optional.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace seedhop::emulator
