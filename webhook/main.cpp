// seedhop-webhook: serves the etcd StatefulSet mutation over HTTPS until SIGTERM.
#include <cstdio>
#include <string>
#include <vector>

#include "common/http/server.h"
#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "webhook/app.h"

int main(int argc, char** argv) {
  using namespace seedhop;
  auto config = webhook::ParseWebhookFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().message().c_str());
    return 2;
  }
  obs::LogLevel level;
  if (!obs::ParseLogLevel(config->log_level, &level)) {
    std::fprintf(stderr, "--log-level: want debug, info, warn or error\n");
    return 2;
  }
  obs::Logger logger("seedhop-webhook", level);
  auto rest = config->kubeconfig.empty()
                  ? kube::InClusterConfig()
                  : kube::LoadKubeconfig(config->kubeconfig, config->context);
  if (!rest) {
    logger.Error("cannot configure the Kubernetes client", {{"error", rest.error().message()}});
    return 2;
  }
  obs::Metrics metrics;
  kube::ClientOptions client_options;
  client_options.logger = &logger;
  client_options.metrics = &metrics;
  kube::Client client(*rest, client_options);

  webhook::PlanCache plans(&client, &metrics, &logger);
  plans.Start();
  if (!plans.WaitForSync(config->sync_timeout)) {
    logger.Warn("EtcdPlan cache not synced yet; /mutate answers 503 until it is");
  }

  webhook::WebhookMetrics webhook_metrics(metrics);
  http::Server server(config->server, &metrics, &logger);
  server.Route("/mutate", webhook::MakeMutateHandler(plans, &webhook_metrics));
  server.AddReadinessCheck([&plans] { return plans.synced(); });
  server.AddStandardRoutes();
  if (Status started = server.Start(); !started) {
    logger.Error("cannot serve", {{"error", started.error().message()}});
    return 1;
  }
  server.RunUntilSignal();
  plans.Stop();
  return 0;
}
