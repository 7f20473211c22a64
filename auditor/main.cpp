// seedhop-auditor: audits a seed's shoot namespaces for leader-election locks kept in the seed.
// Wiring only: the command line (cli.h), the kube client, the audit and its output.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <utility>

#include "auditor/audit.h"
#include "auditor/cli.h"
#include "auditor/fetch.h"
#include "auditor/metrics.h"
#include "auditor/report.h"
#include "common/http/server.h"
#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"

namespace seedhop::auditor {
namespace {

Result<kube::RestConfig> ClientConfig(const CliOptions& options) {
  if (!options.kubeconfig.empty()) {
    return kube::LoadKubeconfig(options.kubeconfig, options.context);
  }
  if (std::getenv("KUBERNETES_SERVICE_HOST") != nullptr && options.context.empty()) {
    return kube::InClusterConfig();
  }
  return kube::LoadKubeconfig(kube::DefaultKubeconfigPath(), options.context);
}

Result<Rules> LoadRules(const CliOptions& options) {
  Result<Rules> rules = options.rules_file.empty() ? Result<Rules>(DefaultRules())
                                                   : LoadRulesFile(options.rules_file);
  if (!rules.ok() || options.namespace_pattern.empty()) {
    return rules;
  }
  auto pattern = Pattern::Compile(options.namespace_pattern);
  if (!pattern.ok()) {
    return pattern.error().Wrap("flag --namespace-pattern");
  }
  rules->namespace_pattern = std::move(*pattern);
  return rules;
}

Timestamp Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

AuditReport RunAudit(kube::Client& client, const Rules& rules, const CliOptions& options,
                     obs::Logger& log) {
  FetchOptions fetch;
  fetch.single_namespace = options.single_namespace;
  fetch.namespace_pattern = rules.namespace_pattern;
  fetch.progress = [&log](std::string_view line) { log.Info(line); };
  PackedSeed seed = FetchSnapshot(client, fetch);
  // Staleness is judged as of the end of the fetch, the latest moment any lock was read.
  AuditReport report = AuditPacked(std::move(seed), rules, Now());
  report.seed = client.config().source;
  return report;
}

int Serve(kube::Client& client, const Rules& rules, const CliOptions& options,
          obs::Metrics& metrics, obs::Logger& log) {
  AuditMetrics audit_metrics(metrics);
  http::ServerOptions server_options;
  server_options.address = options.listen_address;
  server_options.port = options.listen_port;
  http::Server server(server_options, &metrics, &log);
  server.AddStandardRoutes();
  if (Status started = server.Start(); !started.ok()) {
    log.Error("cannot start the metrics server", {{"error", started.error().message()}});
    return kExitError;
  }
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  std::thread loop([&] {
    std::unique_lock lock(mutex);
    while (!stop) {
      lock.unlock();
      const auto start = std::chrono::steady_clock::now();
      const AuditReport report = RunAudit(client, rules, options, log);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      audit_metrics.Publish(report, seconds);
      log.Info("audited", {{"namespaces", std::to_string(report.namespaces.size())},
                           {"exit_code", std::to_string(ExitCode(report))},
                           {"seconds", std::to_string(seconds)}});
      lock.lock();
      wake.wait_for(lock, options.interval, [&] { return stop; });
    }
  });
  server.RunUntilSignal();
  {
    std::lock_guard lock(mutex);
    stop = true;
  }
  wake.notify_all();
  loop.join();
  return kExitSafe;
}

int Main(int argc, char** argv) {
  auto options = ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::cerr << "seedhop-auditor: " << options.error().message() << "\n\n" << Usage();
    return kExitError;
  }
  if (options->command == Command::kHelp) {
    std::cout << Usage();
    return kExitSafe;
  }
  if (options->command == Command::kRules) {
    std::cout << DefaultRulesYaml();
    return kExitSafe;
  }
  obs::LogLevel level = obs::LogLevel::kInfo;
  if (!obs::ParseLogLevel(options->log_level, &level)) {
    std::cerr << "seedhop-auditor: flag --log-level: \"" << options->log_level
              << "\" is not one of debug, info, warn, error\n";
    return kExitError;
  }
  obs::Logger log("seedhop-auditor", level);
  auto rules = LoadRules(*options);
  if (!rules.ok()) {
    std::cerr << "seedhop-auditor: " << rules.error().message() << "\n";
    return kExitError;
  }
  auto config = ClientConfig(*options);
  if (!config.ok()) {
    std::cerr << "seedhop-auditor: " << config.error().message() << "\n";
    return kExitError;
  }
  // Only `serve` has a /metrics to show the client's requests on.
  const bool serve = options->command == Command::kServe;
  obs::Metrics metrics;
  kube::ClientOptions client_options;
  client_options.logger = &log;
  client_options.metrics = serve ? &metrics : nullptr;
  kube::Client client(*config, client_options);
  if (serve) {
    return Serve(client, *rules, *options, metrics, log);
  }
  const AuditReport report = RunAudit(client, *rules, *options, log);
  WriteReport(report, options->format, std::cout);
  return ExitCode(report);
}

}  // namespace
}  // namespace seedhop::auditor

int main(int argc, char** argv) {
  return seedhop::auditor::Main(argc, argv);
}
