// Wires the webhook's parts into an HTTPS server: configuration from flags, the plan cache, the
// /mutate route and the standard routes. main.cpp only calls these.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/http/message.h"
#include "common/http/server.h"
#include "common/result.h"
#include "webhook/handler.h"
#include "webhook/plan_cache.h"

namespace seedhop::webhook {

struct WebhookConfig {
  http::ServerOptions server;
  std::string kubeconfig;  // empty: in-cluster configuration
  std::string context;
  std::string log_level = "info";
  std::chrono::milliseconds sync_timeout{60000};
};

// Parses seedhop-webhook's flags (argv without the program name). `--help` yields an error whose
// message is the usage text.
Result<WebhookConfig> ParseWebhookFlags(const std::vector<std::string>& args);

// The /mutate handler: 503 until the plan cache has synced (kube-apiserver then applies the
// failurePolicy, so a half-informed webhook never strips a migration's aliases), otherwise
// HandleMutate with the cache as the plan lookup.
http::Handler MakeMutateHandler(const PlanCache& cache, WebhookMetrics* metrics);

}  // namespace seedhop::webhook
