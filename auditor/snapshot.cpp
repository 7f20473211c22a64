#include "auditor/snapshot.h"

#include "auditor/object.h"

namespace seedhop::auditor {

void Pack(PackedNamespace& ns, ObjectList list, const nlohmann::json& object) {
  std::string packed;
  nlohmann::json::to_msgpack(object, packed);
  ns.objects.emplace_back(list, std::move(packed));
}

NamespaceSnapshot Unpack(const PackedNamespace& ns) {
  NamespaceSnapshot out = ns.snapshot;
  for (const auto& [list, packed] : ns.objects) {
    (out.*list).push_back(nlohmann::json::from_msgpack(packed));
  }
  return out;
}

std::vector<std::string> SelectNamespaces(const std::vector<std::string>& names,
                                          const Pattern& pattern) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (pattern.FullMatch(n)) {
      out.push_back(n);
    }
  }
  return out;
}

}  // namespace seedhop::auditor

namespace seedhop::auditor {
namespace {

// Copies object[key] into out[key] when present.
void CopyField(const nlohmann::json& object, nlohmann::json& out, const char* key) {
  if (const nlohmann::json* v = Find(object, {key})) {
    out[key] = *v;
  }
}

}  // namespace

nlohmann::json TrimPod(const nlohmann::json& pod) {
  nlohmann::json out = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  if (const nlohmann::json* m = Find(pod, {"metadata"})) {
    for (const char* key : {"name", "namespace", "labels", "ownerReferences"}) {
      CopyField(*m, metadata, key);
    }
  }
  out["metadata"] = std::move(metadata);
  if (const nlohmann::json* phase = Find(pod, {"status", "phase"})) {
    out["status"]["phase"] = *phase;
  }
  return out;
}

nlohmann::json TrimWorkload(const nlohmann::json& workload) {
  nlohmann::json out = {{"metadata", {{"name", StringAt(workload, {"metadata", "name"})}}}};
  if (const nlohmann::json* replicas = Find(workload, {"spec", "replicas"})) {
    out["spec"]["replicas"] = *replicas;
  }
  const nlohmann::json* pod_spec = Find(workload, {"spec", "template", "spec"});
  if (pod_spec == nullptr) {
    return out;
  }
  nlohmann::json spec = nlohmann::json::object();
  CopyField(*pod_spec, spec, "volumes");
  if (const nlohmann::json* containers = Find(*pod_spec, {"containers"});
      containers != nullptr && containers->is_array()) {
    nlohmann::json trimmed = nlohmann::json::array();
    for (const auto& c : *containers) {
      nlohmann::json t = nlohmann::json::object();
      for (const char* key : {"name", "command", "args", "volumeMounts"}) {
        CopyField(c, t, key);
      }
      trimmed.push_back(std::move(t));
    }
    spec["containers"] = std::move(trimmed);
  }
  out["spec"]["template"]["spec"] = std::move(spec);
  return out;
}

nlohmann::json TrimLease(const nlohmann::json& lease) {
  nlohmann::json out = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  if (const nlohmann::json* m = Find(lease, {"metadata"})) {
    for (const char* key : {"name", "namespace", "labels"}) {
      CopyField(*m, metadata, key);
    }
  }
  out["metadata"] = std::move(metadata);
  CopyField(lease, out, "spec");
  return out;
}

nlohmann::json TrimLockCarrier(const nlohmann::json& object, bool keep_data) {
  nlohmann::json out = {{"metadata", {{"name", StringAt(object, {"metadata", "name"})}}}};
  if (const nlohmann::json* a = Find(object, {"metadata", "annotations", kLeaderAnnotation})) {
    out["metadata"]["annotations"][kLeaderAnnotation] = *a;
  }
  if (keep_data) {
    CopyField(object, out, "data");
  }
  return out;
}

bool HasLeaderAnnotation(const nlohmann::json& object) {
  return Find(object, {"metadata", "annotations", kLeaderAnnotation}) != nullptr;
}

std::vector<std::string> MountedConfigMaps(const nlohmann::json& workload) {
  std::vector<std::string> out;
  const nlohmann::json* volumes = Find(workload, {"spec", "template", "spec", "volumes"});
  if (volumes == nullptr || !volumes->is_array()) {
    return out;
  }
  for (const auto& v : *volumes) {
    if (std::string name = StringAt(v, {"configMap", "name"}); !name.empty()) {
      out.push_back(std::move(name));
    }
    const nlohmann::json* sources = Find(v, {"projected", "sources"});
    if (sources != nullptr && sources->is_array()) {
      for (const auto& s : *sources) {
        if (std::string name = StringAt(s, {"configMap", "name"}); !name.empty()) {
          out.push_back(std::move(name));
        }
      }
    }
  }
  return out;
}

}  // namespace seedhop::auditor
