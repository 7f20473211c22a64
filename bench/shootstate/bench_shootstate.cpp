// ShootState copy benchmark: export + import of N Secrets between two API-server emulators
// (seedhop-emulator processes started by run.sh), or, with --mode=baseline, the plain copy of the
// same Secrets (list on A, create on B) that any state copy has to beat. Prints wall times and
// this process's peak RSS (getrusage), so both modes can be compared run by run.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "common/kube/client.h"
#include "migrator/shootstate/codec.h"
#include "migrator/shootstate/export.h"
#include "migrator/shootstate/import.h"
#include "test/support/kube_objects.h"

namespace {

using nlohmann::json;
using seedhop::kube::ResourceRef;
using seedhop::testing::NamespaceObject;
using seedhop::testing::PreservingCrd;
namespace ss = seedhop::migrator::shootstate;

constexpr char kSeedNs[] = "shoot--bench--s";
constexpr char kGardenNs[] = "garden-bench";

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

long PeakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string RandomBytes(size_t n, std::mt19937& rng) {
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng() & 0xff);
  return out;
}

template <typename T>
bool Check(const seedhop::Result<T>& result, const char* what) {
  if (!result.ok())
    std::fprintf(stderr, "%s: %s\n", what, result.error().message().c_str());
  return result.ok();
}

// Creates the namespaces, the ShootState CRD and `count` persisted Secrets on emulator A.
bool Load(seedhop::kube::Client& a, int count, size_t bytes) {
  const ResourceRef namespaces{"", "v1", "namespaces", ""};
  const ResourceRef crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", ""};
  json crd = PreservingCrd("core.gardener.cloud", "v1beta1", "ShootState", "shootstates");
  if (!Check(a.Create(crds, crd), "create CRD") ||
      !Check(a.Create(namespaces, NamespaceObject(kSeedNs)), "create namespace") ||
      !Check(a.Create(namespaces, NamespaceObject(kGardenNs)), "create namespace")) {
    return false;
  }
  std::mt19937 rng(42);
  const ResourceRef secrets{"", "v1", "secrets", kSeedNs};
  for (int i = 0; i < count; ++i) {
    json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata", {{"name", "secret-" + std::to_string(i)}, {"labels", {{"persist", "true"}}}}},
        {"type", "Opaque"},
        {"data", {{"key", ss::Base64Encode(RandomBytes(bytes, rng))}}}};
    if (!Check(a.Create(secrets, secret), "create secret"))
      return false;
  }
  return true;
}

int RunBaseline(seedhop::kube::Client& a, seedhop::kube::Client& b) {
  auto start = std::chrono::steady_clock::now();
  auto list = a.ListAll({"", "v1", "secrets", kSeedNs}, {});
  if (!Check(list, "list"))
    return 1;
  if (!Check(b.Create({"", "v1", "namespaces", ""}, NamespaceObject(kSeedNs)), "create namespace"))
    return 1;
  const ResourceRef target{"", "v1", "secrets", kSeedNs};
  for (const auto& item : (*list)["items"]) {
    if (!Check(b.Create(target, ss::StripServerFields(item)), "create"))
      return 1;
  }
  std::printf("baseline  plain copy (list A, create on B): %.2f s, %zu secrets, peak RSS %ld MiB\n",
              Seconds(start), (*list)["items"].size(), PeakRssKiB() / 1024);
  return 0;
}

int RunShootState(seedhop::kube::Client& a, seedhop::kube::Client& b) {
  ss::ExportOptions export_options;
  export_options.seed_namespace = kSeedNs;
  export_options.shoot = {"s", kGardenNs};
  auto start = std::chrono::steady_clock::now();
  auto exported = ss::ExportShootState(a, a, export_options);
  if (!Check(exported, "export"))
    return 1;
  double export_s = Seconds(start);

  ss::ImportOptions import_options;
  import_options.target_namespace = kSeedNs;
  import_options.shoot = export_options.shoot;
  start = std::chrono::steady_clock::now();
  auto imported = ss::ImportShootState(a, b, import_options);
  if (!Check(imported, "import"))
    return 1;
  double import_s = Seconds(start);
  start = std::chrono::steady_clock::now();
  auto again = ss::ImportShootState(a, b, import_options);
  if (!Check(again, "second import"))
    return 1;
  double again_s = Seconds(start);

  std::printf("shootstate export: %.2f s (%zu secrets, spec %.1f MiB, %zu parts%s)\n", export_s,
              exported->gardener_entries, exported->spec_bytes / 1048576.0, exported->parts,
              exported->compressed ? ", zlib" : "");
  std::printf("shootstate import: %.2f s (%zu created, %.1f MiB copied, %zu failed)\n", import_s,
              imported->Count(ss::Outcome::kCreated), imported->bytes_copied / 1048576.0,
              imported->Count(ss::Outcome::kFailed));
  std::printf("shootstate second import: %.2f s (%zu unchanged, %zu written)\n", again_s,
              again->Count(ss::Outcome::kUnchanged),
              again->Count(ss::Outcome::kCreated) + again->Count(ss::Outcome::kUpdated));
  std::printf("shootstate export+import: %.2f s, peak RSS %ld MiB\n", export_s + import_s,
              PeakRssKiB() / 1024);
  return again->Count(ss::Outcome::kUnchanged) == again->objects.size() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig_a, kubeconfig_b, mode = "shootstate";
  int count = 5000;
  size_t bytes = 5 * 1024;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      std::string prefix = std::string(flag) + "=";
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (auto v = value("--kubeconfig-a")) {
      kubeconfig_a = v;
    } else if (auto v = value("--kubeconfig-b")) {
      kubeconfig_b = v;
    } else if (auto v = value("--mode")) {
      mode = v;
    } else if (auto v = value("--secrets")) {
      count = std::stoi(v);
    } else if (auto v = value("--bytes")) {
      bytes = std::stoul(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s --kubeconfig-a=P --kubeconfig-b=P [--mode=shootstate|baseline] "
                   "[--secrets=N] [--bytes=B]\n",
                   argv[0]);
      return 2;
    }
  }
  auto config_a = seedhop::kube::LoadKubeconfig(kubeconfig_a);
  auto config_b = seedhop::kube::LoadKubeconfig(kubeconfig_b);
  if (!Check(config_a, "kubeconfig A") || !Check(config_b, "kubeconfig B"))
    return 1;
  seedhop::kube::Client a(*config_a);
  seedhop::kube::Client b(*config_b);
  auto start = std::chrono::steady_clock::now();
  if (!Load(a, count, bytes))
    return 1;
  std::printf("%-10s loaded %d secrets of %zu random bytes on A in %.2f s\n", mode.c_str(), count,
              bytes, Seconds(start));
  if (mode == "baseline")
    return RunBaseline(a, b);
  if (mode == "shootstate")
    return RunShootState(a, b);
  std::fprintf(stderr, "--mode: want shootstate or baseline\n");
  return 2;
}
