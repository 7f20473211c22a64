// Standard base64 (RFC 4648 section 4), as Kubernetes uses it for []byte fields (caBundle,
// AdmissionResponse.patch, Secret data, kubeconfig *-data) and etcd's JSON gateway for keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace seedhop::encoding {

std::string Base64Encode(std::string_view data);
// Appends the encoding of `data` to `out`: for a caller building a larger text around it.
void AppendBase64(std::string& out, std::string_view data);
// Returns nullopt for characters outside the alphabet (spaces included), data after padding,
// wrong padding or a truncated quantum. Line breaks are skipped and padding is optional, as in
// kubectl's YAML.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace seedhop::encoding
