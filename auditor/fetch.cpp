#include "auditor/fetch.h"

#include <map>
#include <set>

#include "auditor/object.h"

namespace seedhop::auditor {
namespace {

const kube::ResourceRef kNamespaces{"", "v1", "namespaces", ""};
const kube::ResourceRef kDeployments{"apps", "v1", "deployments", ""};
const kube::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", ""};
const kube::ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", ""};
const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", ""};
const kube::ResourceRef kEndpoints{"", "v1", "endpoints", ""};
const kube::ResourceRef kPods{"", "v1", "pods", ""};

void Progress(const FetchOptions& options, const std::string& line) {
  if (options.progress) {
    options.progress(line);
  }
}

// Where each resource goes, and how it is trimmed. Workloads come first: the ConfigMaps they
// mount are the only ones whose data is kept.
struct Sink {
  std::map<std::string, PackedNamespace*> by_name;
  std::map<std::string, std::set<std::string>> mounted;  // namespace -> ConfigMap names

  PackedNamespace* For(const nlohmann::json& object) {
    auto it = by_name.find(StringAt(object, {"metadata", "namespace"}));
    return it == by_name.end() ? nullptr : it->second;
  }

  void Add(const kube::ResourceRef& ref, const nlohmann::json& object) {
    PackedNamespace* ns = For(object);
    if (ns == nullptr) {
      return;
    }
    const std::string& r = ref.resource;
    if (r == "deployments" || r == "statefulsets") {
      for (auto& name : MountedConfigMaps(object)) {
        mounted[ns->snapshot.name].insert(std::move(name));
      }
      Pack(*ns,
           r == "deployments" ? &NamespaceSnapshot::deployments : &NamespaceSnapshot::statefulsets,
           TrimWorkload(object));
    } else if (r == "leases") {
      Pack(*ns, &NamespaceSnapshot::leases, TrimLease(object));
    } else if (r == "pods") {
      Pack(*ns, &NamespaceSnapshot::pods, TrimPod(object));
    } else if (r == "configmaps") {
      const bool keep_data = mounted[ns->snapshot.name].count(NameOf(object)) > 0;
      if (keep_data || HasLeaderAnnotation(object)) {
        Pack(*ns, &NamespaceSnapshot::configmaps, TrimLockCarrier(object, keep_data));
      }
    } else if (r == "endpoints" && HasLeaderAnnotation(object)) {
      Pack(*ns, &NamespaceSnapshot::endpoints, TrimLockCarrier(object, false));
    }
  }
};

const kube::ResourceRef* const kOrder[] = {&kDeployments, &kStatefulSets, &kLeases,
                                           &kConfigMaps,  &kEndpoints,    &kPods};

// Lists `ref` (cluster-wide, or in `ns` when set) into the sink; returns the error if any.
Status ListInto(kube::Client& client, const kube::ResourceRef& ref, int64_t page_size, Sink& sink) {
  kube::ListOptions list;
  list.limit = page_size;
  return client.ListPages(ref, list, [&](nlohmann::json& page) {
    if (const nlohmann::json* items = Find(page, {"items"});
        items != nullptr && items->is_array()) {
      for (const auto& item : *items) {
        sink.Add(ref, item);
      }
    }
    return true;
  });
}

// Lists the names of every namespace on the seed, page by page.
Result<std::vector<std::string>> ListNamespaceNames(kube::Client& client, int64_t page_size) {
  std::vector<std::string> names;
  kube::ListOptions list;
  list.limit = page_size;
  Status listed = client.ListPages(kNamespaces, list, [&](nlohmann::json& page) {
    if (const nlohmann::json* items = Find(page, {"items"});
        items != nullptr && items->is_array()) {
      for (const auto& item : *items) {
        names.push_back(NameOf(item));
      }
    }
    return true;
  });
  if (!listed.ok()) {
    return listed.error();
  }
  return names;
}

// Marks namespaces deleted while their objects were being listed: the audit of a namespace that
// no longer exists is reported as "gone", not as a shoot without locks.
void MarkDeleted(kube::Client& client, const FetchOptions& options, PackedSeed& seed) {
  if (!options.single_namespace.empty()) {
    auto ns = client.Get(kNamespaces, options.single_namespace);
    if (!ns.ok() && ns.error().code() == ErrorCode::kNotFound) {
      seed.namespaces.front().snapshot.gone = true;
    }
    return;
  }
  auto listed = ListNamespaceNames(client, options.page_size);
  if (!listed.ok()) {
    return;  // the first list worked; keep what was read rather than guess
  }
  const std::set<std::string> present(listed->begin(), listed->end());
  for (auto& ns : seed.namespaces) {
    ns.snapshot.gone = ns.snapshot.gone || present.count(ns.snapshot.name) == 0;
  }
}

}  // namespace

PackedSeed FetchSnapshot(kube::Client& client, const FetchOptions& options) {
  PackedSeed seed;
  std::vector<std::string> names;
  if (!options.single_namespace.empty()) {
    auto ns = client.Get(kNamespaces, options.single_namespace);
    if (!ns.ok()) {
      seed.errors.push_back(ns.error().Wrap("namespace " + options.single_namespace));
      return seed;
    }
    names.push_back(options.single_namespace);
  } else {
    auto listed = ListNamespaceNames(client, options.page_size);
    if (!listed.ok()) {
      seed.errors.push_back(listed.error().Wrap("list namespaces"));
      return seed;
    }
    const std::vector<std::string>& all = *listed;
    names = SelectNamespaces(all, options.namespace_pattern);
    Progress(options, "listed " + std::to_string(all.size()) + " namespaces, " +
                          std::to_string(names.size()) + " match " +
                          options.namespace_pattern.source());
  }
  seed.namespaces.resize(names.size());
  Sink sink;
  for (std::size_t i = 0; i < names.size(); ++i) {
    seed.namespaces[i].snapshot.name = names[i];
    sink.by_name[names[i]] = &seed.namespaces[i];
  }
  if (names.empty()) {
    return seed;
  }
  for (const kube::ResourceRef* ref : kOrder) {
    const kube::ResourceRef scoped =
        options.single_namespace.empty() ? *ref : ref->In(options.single_namespace);
    Status listed = ListInto(client, scoped, options.page_size, sink);
    if (!listed.ok()) {
      // One failed list (RBAC for one resource type, say) is an item for every namespace it
      // would have covered; a namespace that vanished under -n is "gone".
      for (auto& ns : seed.namespaces) {
        if (!options.single_namespace.empty() && listed.error().code() == ErrorCode::kNotFound) {
          ns.snapshot.gone = true;
        } else {
          ns.snapshot.errors.push_back(FetchError{ref->resource, listed.error()});
        }
      }
    }
    Progress(options, "listed " + ref->Name());
  }
  MarkDeleted(client, options, seed);
  return seed;
}

}  // namespace seedhop::auditor
