// Splitting a ShootState that exceeds the API server's object limit (etcd's 1.5 MiB request limit
// by default) into ConfigMap parts, and putting it back together with every part checked.
//
// Format "seedhop.io/chunked-v1": the ShootState keeps its name and namespace, an empty spec and
// the annotation seedhop.io/shootstate-manifest, a JSON object
//   {format, encoding: "zlib"|"identity", sha256 (of the serialized spec), bytes, parts: [{name,
//   sha256, bytes}]}.
// Part i is ConfigMap "<shoot>-shootstate-part-<i>" in the same namespace with binaryData.part
// (a slice of the encoded spec) and annotations naming its index and the spec's sha256, so a part
// left from an older export is told apart from the current one.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::migrator::shootstate {

// etcd's default --max-request-bytes (1.5 MiB), which bounds one stored Kubernetes object.
inline constexpr size_t kDefaultMaxObjectBytes = 1536 * 1024;
inline constexpr char kManifestAnnotation[] = "seedhop.io/shootstate-manifest";
inline constexpr char kPartOfLabel[] = "seedhop.io/shootstate";
inline constexpr char kChunkFormat[] = "seedhop.io/chunked-v1";

struct PackedState {
  nlohmann::json shoot_state;         // the object to write: whole, or the manifest holder
  std::vector<nlohmann::json> parts;  // ConfigMaps, in index order; empty when not chunked
  bool compressed = false;
  size_t spec_bytes = 0;  // serialized spec before encoding
};

// Returns the ConfigMap name of part `index` of `shoot`'s state.
std::string PartName(const std::string& shoot, size_t index);

// Returns `shoot_state` unchanged when its JSON fits in `max_object_bytes` with headroom for
// server-set metadata; otherwise the compressed (when that is smaller) spec split into parts that
// each fit. REQUIRES: shoot_state has metadata.name/namespace; max_object_bytes >= 64 KiB.
Result<PackedState> Pack(const nlohmann::json& shoot_state, size_t max_object_bytes);

// True when `shoot_state` carries a chunk manifest.
bool IsChunked(const nlohmann::json& shoot_state);

// The part names the manifest lists, in order. Errors when the manifest is malformed.
Result<std::vector<std::string>> ManifestPartNames(const nlohmann::json& shoot_state);

// Returns the ShootState with its spec restored from `parts` (matched by name, order free).
// An unchunked `shoot_state` is returned as is. Fails naming the part when one is missing, from
// another export, or fails its checksum, and when the reassembled spec fails its checksum.
Result<nlohmann::json> Unpack(const nlohmann::json& shoot_state,
                              const std::vector<nlohmann::json>& parts);

}  // namespace seedhop::migrator::shootstate
