// seedhop-bench-client: kube::Client throughput against a running API server (run.sh starts the
// emulator). Loads N ConfigMaps, lists them with pagination (objects/s, peak RSS), replays them
// through a watch (events/s), and runs kubectl over the same list as the baseline.
//   seedhop-bench-client --kubeconfig PATH [--objects N] [--page N] [--threads N] [--kubectl PATH]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"

namespace {

using nlohmann::json;
using seedhop::kube::Client;
using seedhop::kube::ResourceRef;
using Clock = std::chrono::steady_clock;

constexpr char kNamespace[] = "bench";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB).
double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "seedhop-bench-client: %s\n", what.c_str());
  return 1;
}

// Runs `argv` with stdout discarded; returns its wall time and peak RSS (MiB), or a negative
// time when it could not run or failed.
std::pair<double, double> RunChild(const std::vector<std::string>& args) {
  std::fflush(stdout);  // or the child's copy of the buffer is printed twice
  auto started = Clock::now();
  pid_t pid = fork();
  if (pid < 0)
    return {-1, 0};
  if (pid == 0) {
    if (std::freopen("/dev/null", "w", stdout) == nullptr)
      _exit(127);
    std::vector<char*> argv;
    for (const auto& arg : args)
      argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {-1, 0};
  }
  return {Seconds(started), static_cast<double>(usage.ru_maxrss) / 1024.0};
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig;
  std::string kubectl = "kubectl";
  long objects = 50000;
  long page = 500;
  int threads = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--kubeconfig") {
      kubeconfig = value;
    } else if (flag == "--objects") {
      objects = std::atol(value.c_str());
    } else if (flag == "--page") {
      page = std::atol(value.c_str());
    } else if (flag == "--threads") {
      threads = std::atoi(value.c_str());
    } else if (flag == "--kubectl") {
      kubectl = value;
    } else {
      return Fail("unknown flag " + flag);
    }
  }
  if (kubeconfig.empty() || objects <= 0 || page <= 0 || threads <= 0) {
    return Fail(
        "usage: seedhop-bench-client --kubeconfig PATH [--objects N] [--page N] [--threads N] "
        "[--kubectl PATH]");
  }
  auto config = seedhop::kube::LoadKubeconfig(kubeconfig);
  if (!config)
    return Fail(config.error().message());
  Client client(*config);
  const ResourceRef namespaces{"", "v1", "namespaces", ""};
  const ResourceRef configmaps{"", "v1", "configmaps", kNamespace};

  auto ns = client.Create(
      namespaces,
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNamespace}}}});
  if (!ns)
    return Fail(ns.error().message());
  auto before = client.List(configmaps, {.limit = 1});
  if (!before)
    return Fail(before.error().message());
  std::string load_from = (*before)["metadata"].value("resourceVersion", "");

  // Load: ConfigMaps of ~300 bytes each, created by `threads` parallel writers.
  std::printf("loading %ld ConfigMaps into namespace %s with %d writers...\n", objects, kNamespace,
              threads);
  auto load_started = Clock::now();
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&] {
      for (long i; !failed && (i = next++) < objects;) {
        json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata",
                    {{"name", "cm-" + std::to_string(i)},
                     {"namespace", kNamespace},
                     {"labels", {{"app", "bench"}, {"shard", std::to_string(i % 16)}}}}},
                   {"data", {{"payload", std::string(200, 'x')}, {"index", std::to_string(i)}}}};
        auto created = client.Create(configmaps, cm);
        if (!created) {
          std::fprintf(stderr, "%s\n", created.error().message().c_str());
          failed = true;
        }
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
  if (failed)
    return Fail("load failed");
  double load_seconds = Seconds(load_started);
  std::printf("load: %ld creates in %.2f s = %.0f creates/s\n", objects, load_seconds,
              objects / load_seconds);
  double rss_after_load = PeakRssMiB();

  // Paginated list, streaming: each page is dropped once counted.
  seedhop::kube::ListOptions options;
  options.limit = page;
  long streamed = 0;
  auto list_started = Clock::now();
  auto walked = client.ListPages(configmaps, options, [&](json& list) {
    streamed += static_cast<long>(list["items"].size());
    return true;
  });
  if (!walked)
    return Fail(walked.error().message());
  double stream_seconds = Seconds(list_started);
  double rss_after_stream = PeakRssMiB();

  // Paginated list, keeping every object in memory (what ListAll and the watch cache do).
  list_started = Clock::now();
  auto all = client.ListAll(configmaps, options);
  if (!all)
    return Fail(all.error().message());
  double all_seconds = Seconds(list_started);
  long kept = static_cast<long>((*all)["items"].size());
  double rss_after_all = PeakRssMiB();
  all = json::object();

  // Watch replay: every creation since the load began, decoded event by event.
  long events = 0;
  auto watch_started = Clock::now();
  seedhop::kube::WatchOptions watch;
  watch.resource_version = load_from;
  watch.allow_bookmarks = false;
  watch.idle_timeout = std::chrono::seconds(10);
  auto watched = client.Watch(configmaps, watch,
                              [&](const seedhop::kube::WatchEvent&) { return ++events < objects; });
  double watch_seconds = Seconds(watch_started);
  if (!watched)
    return Fail(watched.error().message());

  // Baseline: kubectl reading the same objects with the same page size, in the same run.
  auto [kubectl_seconds, kubectl_rss] =
      RunChild({kubectl, "--kubeconfig", kubeconfig, "get", "configmaps", "-n", kNamespace, "-o",
                "json", "--chunk-size=" + std::to_string(page)});

  std::printf("\n%-44s %12s %10s %14s\n", "measurement", "objects", "seconds", "objects/s");
  std::printf("%-44s %12ld %10.2f %14.0f\n", "kube::Client ListPages (limit, streamed)", streamed,
              stream_seconds, streamed / stream_seconds);
  std::printf("%-44s %12ld %10.2f %14.0f\n", "kube::Client ListAll (limit, kept)", kept,
              all_seconds, kept / all_seconds);
  std::printf("%-44s %12ld %10.2f %14.0f\n", "kube::Client Watch replay (events)", events,
              watch_seconds, events / watch_seconds);
  if (kubectl_seconds > 0) {
    std::printf("%-44s %12ld %10.2f %14.0f\n", "baseline: kubectl get -o json --chunk-size",
                objects, kubectl_seconds, objects / kubectl_seconds);
  } else {
    std::printf("baseline: %s did not run successfully; no kubectl figure\n", kubectl.c_str());
  }
  std::printf("\npeak RSS (MiB): after load %.1f, after streamed list %.1f, after ListAll %.1f",
              rss_after_load, rss_after_stream, rss_after_all);
  if (kubectl_seconds > 0)
    std::printf("; kubectl %.1f", kubectl_rss);
  std::printf("\n");
  return events >= objects && streamed == objects && kept == objects ? 0 : 1;
}
