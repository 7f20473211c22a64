#include "migrator/shootstate/chunk.h"

#include <algorithm>
#include <map>

#include "migrator/shootstate/codec.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

constexpr char kPartIndexAnnotation[] = "seedhop.io/shootstate-part";
constexpr char kStateShaAnnotation[] = "seedhop.io/shootstate-sha256";
// Room left in every object for what the server and the manifest add (metadata, resourceVersion,
// annotations). Generous: a few KiB are real, the rest is margin.
constexpr size_t kHeadroom = 32 * 1024;
// A spec larger than this is refused on unpack (decompression bomb bound).
constexpr size_t kMaxSpecBytes = size_t{1} << 31;

}  // namespace

std::string PartName(const std::string& shoot, size_t index) {
  return shoot + "-shootstate-part-" + std::to_string(index);
}

Result<PackedState> Pack(const json& shoot_state, size_t max_object_bytes) {
  if (max_object_bytes < 64 * 1024) {
    return Error(ErrorCode::kInvalid,
                 "max object bytes " + std::to_string(max_object_bytes) + ": must be >= 65536");
  }
  PackedState packed;
  const std::string spec = shoot_state.value("spec", json::object()).dump();
  packed.spec_bytes = spec.size();
  if (shoot_state.dump().size() + kHeadroom <= max_object_bytes) {
    packed.shoot_state = shoot_state;
    return packed;
  }
  const std::string shoot = shoot_state["metadata"].value("name", "");
  const std::string ns = shoot_state["metadata"].value("namespace", "");
  auto deflated = Deflate(spec);
  if (!deflated.ok())
    return deflated.error();
  packed.compressed = deflated->size() < spec.size();
  const std::string& encoded = packed.compressed ? *deflated : spec;
  const std::string spec_sha = Sha256Hex(spec);
  // binaryData is base64 in the object: 4 bytes on the wire per 3 of payload.
  const size_t part_bytes = (max_object_bytes - kHeadroom) / 4 * 3;
  const size_t count = std::max<size_t>(1, (encoded.size() + part_bytes - 1) / part_bytes);

  json manifest = {{"format", kChunkFormat},
                   {"encoding", packed.compressed ? "zlib" : "identity"},
                   {"sha256", spec_sha},
                   {"bytes", spec.size()},
                   {"parts", json::array()}};
  for (size_t i = 0; i < count; ++i) {
    std::string_view slice = std::string_view(encoded).substr(i * part_bytes, part_bytes);
    std::string name = PartName(shoot, i);
    std::string part_sha = Sha256Hex(slice);
    manifest["parts"].push_back({{"name", name}, {"sha256", part_sha}, {"bytes", slice.size()}});
    packed.parts.push_back(
        {{"apiVersion", "v1"},
         {"kind", "ConfigMap"},
         {"metadata",
          {{"name", name},
           {"namespace", ns},
           {"labels", {{kPartOfLabel, shoot}}},
           {"annotations",
            {{kPartIndexAnnotation, std::to_string(i) + "/" + std::to_string(count)},
             {kStateShaAnnotation, spec_sha}}}}},
         {"binaryData", {{"part", Base64Encode(slice)}}}});
  }
  packed.shoot_state = shoot_state;
  packed.shoot_state["spec"] = json::object();
  packed.shoot_state["metadata"]["annotations"][kManifestAnnotation] = manifest.dump();
  return packed;
}

bool IsChunked(const json& shoot_state) {
  const json metadata = shoot_state.value("metadata", json::object());
  const json annotations = metadata.value("annotations", json::object());
  return annotations.is_object() && annotations.contains(kManifestAnnotation);
}

namespace {

Result<json> ParseManifest(const json& shoot_state) {
  const std::string text =
      shoot_state["metadata"]["annotations"][kManifestAnnotation].get<std::string>();
  json manifest = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& why) {
    return Error(ErrorCode::kInvalid, std::string(kManifestAnnotation) + ": " + why);
  };
  if (!manifest.is_object())
    return bad("not a JSON object");
  if (manifest.value("format", "") != kChunkFormat)
    return bad("unknown format \"" + manifest.value("format", "") + "\"");
  std::string encoding = manifest.value("encoding", "");
  if (encoding != "zlib" && encoding != "identity")
    return bad("unknown encoding \"" + encoding + "\"");
  if (!manifest.value("sha256", json()).is_string())
    return bad("sha256: required");
  if (!manifest.value("parts", json()).is_array() || manifest["parts"].empty())
    return bad("parts: required");
  for (const auto& part : manifest["parts"]) {
    if (!part.is_object() || !part.value("name", json()).is_string() ||
        !part.value("sha256", json()).is_string()) {
      return bad("parts: each needs name and sha256");
    }
  }
  return manifest;
}

}  // namespace

Result<std::vector<std::string>> ManifestPartNames(const json& shoot_state) {
  if (!IsChunked(shoot_state))
    return std::vector<std::string>{};
  auto manifest = ParseManifest(shoot_state);
  if (!manifest.ok())
    return manifest.error();
  std::vector<std::string> names;
  for (const auto& part : (*manifest)["parts"])
    names.push_back(part["name"].get<std::string>());
  return names;
}

Result<json> Unpack(const json& shoot_state, const std::vector<json>& parts) {
  if (!IsChunked(shoot_state))
    return shoot_state;
  auto manifest = ParseManifest(shoot_state);
  if (!manifest.ok())
    return manifest.error();
  const std::string spec_sha = (*manifest)["sha256"].get<std::string>();
  std::map<std::string, const json*> by_name;
  for (const auto& part : parts) {
    by_name[part.value("metadata", json::object()).value("name", "")] = &part;
  }
  const size_t count = (*manifest)["parts"].size();
  std::string encoded;
  for (size_t i = 0; i < count; ++i) {
    const json& entry = (*manifest)["parts"][i];
    const std::string name = entry["name"].get<std::string>();
    const std::string what =
        "part " + std::to_string(i + 1) + " of " + std::to_string(count) + " (" + name + ")";
    auto it = by_name.find(name);
    if (it == by_name.end())
      return Error(ErrorCode::kNotFound, what + ": missing");
    const json& part = *it->second;
    const json annotations =
        part.value("metadata", json::object()).value("annotations", json::object());
    if (annotations.value(kStateShaAnnotation, "") != spec_sha)
      return Error(ErrorCode::kConflict, what + ": belongs to another export");
    const json binary = part.value("binaryData", json::object());
    std::optional<std::string> bytes;
    if (binary.is_object() && binary.value("part", json()).is_string())
      bytes = Base64Decode(binary["part"].get<std::string>());
    if (!bytes)
      return Error(ErrorCode::kInvalid, what + ": binaryData.part missing or not base64");
    if (Sha256Hex(*bytes) != entry["sha256"].get<std::string>())
      return Error(ErrorCode::kInvalid, what + ": sha256 mismatch (corrupt)");
    encoded += *bytes;
  }
  std::string spec;
  if ((*manifest)["encoding"] == "zlib") {
    auto inflated = Inflate(encoded, kMaxSpecBytes);
    if (!inflated.ok())
      return inflated.error().Wrap("reassembled state");
    spec = std::move(*inflated);
  } else {
    spec = std::move(encoded);
  }
  if (Sha256Hex(spec) != spec_sha)
    return Error(ErrorCode::kInvalid, "reassembled state: sha256 mismatch");
  json restored = shoot_state;
  restored["spec"] = json::parse(spec, nullptr, /*allow_exceptions=*/false);
  if (restored["spec"].is_discarded() || !restored["spec"].is_object())
    return Error(ErrorCode::kInvalid, "reassembled state: spec is not a JSON object");
  restored["metadata"]["annotations"].erase(kManifestAnnotation);
  if (restored["metadata"]["annotations"].empty())
    restored["metadata"].erase("annotations");
  return restored;
}

}  // namespace seedhop::migrator::shootstate
