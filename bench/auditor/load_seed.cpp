// Loads an emulated seed with N shoot control-plane namespaces for bench/auditor/run.sh: per
// namespace about 12 Leases, 15 Deployments and 10 ConfigMaps, shaped after the shared reference
// objects (read at run time from ../shared/reference/leases; nothing is copied into the repo).
//   seedhop-bench-load-seed KUBECONFIG SHARED_LEASES_DIR NAMESPACES
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"

namespace {

using nlohmann::json;
using seedhop::kube::ResourceRef;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

json Named(json object, const std::string& name, const std::string& ns) {
  object["metadata"] = {{"name", name},
                        {"namespace", ns},
                        {"labels", object["metadata"].value("labels", json::object())},
                        {"annotations", object["metadata"].value("annotations", json::object())}};
  object.erase("status");
  return object;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s KUBECONFIG SHARED_LEASES_DIR NAMESPACES\n", argv[0]);
    return 2;
  }
  auto config = seedhop::kube::LoadKubeconfig(argv[1]);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().message().c_str());
    return 2;
  }
  seedhop::kube::Client client(*config);
  std::string dir = argv[2];
  int namespaces = std::stoi(argv[3]);
  json lease = ReadJson(dir + "/seed-lease-machine-controller-manager.json");
  json deployment = ReadJson(dir + "/seed-deployment-kube-controller-manager.json");
  json configmap = ReadJson(dir + "/seed-configmap-gardener-resource-manager.json");
  const ResourceRef kNamespaces{"", "v1", "namespaces", ""};
  for (int i = 0; i < namespaces; ++i) {
    std::string ns = "shoot--bench--s" + std::to_string(i);
    auto created = client.Create(
        kNamespaces, {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().message().c_str());
      return 1;
    }
    const ResourceRef leases{"coordination.k8s.io", "v1", "leases", ns};
    const ResourceRef deployments{"apps", "v1", "deployments", ns};
    const ResourceRef configmaps{"", "v1", "configmaps", ns};
    for (int k = 0; k < 15; ++k) {
      const std::string suffix = k == 0 ? "" : "-" + std::to_string(k);
      for (auto& [ref, object, count] : {std::tuple{leases, lease, 12},
                                         {deployments, deployment, 15},
                                         {configmaps, configmap, 10}}) {
        if (k >= count)
          continue;
        auto put =
            client.Create(ref, Named(object, object["metadata"].value("name", "x") + suffix, ns));
        if (!put) {
          std::fprintf(stderr, "%s\n", put.error().message().c_str());
          return 1;
        }
      }
    }
  }
  return 0;
}
