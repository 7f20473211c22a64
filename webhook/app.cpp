#include "webhook/app.h"

#include "common/cli/flags.h"

namespace seedhop::webhook {

Result<WebhookConfig> ParseWebhookFlags(const std::vector<std::string>& args) {
  cli::FlagSet flags;
  flags.String("address", "0.0.0.0", "listen address");
  flags.String("port", "9443", "HTTPS port for /mutate, /healthz, /readyz and /metrics");
  flags.String("cert-file", "", "serving certificate (PEM); reloaded when it changes");
  flags.String("key-file", "", "serving key (PEM); reloaded when it changes");
  flags.String("kubeconfig", "", "kubeconfig of the seed; empty: in-cluster configuration");
  flags.String("context", "", "kubeconfig context; empty: the current context");
  flags.String("log-level", "info", "debug, info, warn or error");
  flags.String("threads", "2", "I/O threads");
  flags.String("max-connections", "4096", "connections beyond this are closed at once");
  flags.String("shutdown-grace", "15s", "how long SIGTERM waits for in-flight requests");
  flags.String("sync-timeout", "60s", "how long to wait for the first plan list before serving");
  flags.Bool("help", false, "print this text");
  std::string usage = "usage: seedhop-webhook --cert-file F --key-file F [flags]\n" + flags.Usage();
  Status parsed = flags.Parse(args);
  if (!parsed)
    return Error(ErrorCode::kInvalid, parsed.error().message() + "\n" + usage);
  if (flags.GetBool("help"))
    return Error(ErrorCode::kInvalid, usage);
  if (!flags.positional().empty()) {
    return Error(ErrorCode::kInvalid,
                 "unexpected argument \"" + flags.positional()[0] + "\"\n" + usage);
  }
  WebhookConfig config;
  config.server.address = flags.GetString("address");
  config.server.cert_file = flags.GetString("cert-file");
  config.server.key_file = flags.GetString("key-file");
  if (config.server.cert_file.empty() || config.server.key_file.empty()) {
    return Error(ErrorCode::kInvalid,
                 "--cert-file and --key-file are required: kube-apiserver only calls webhooks "
                 "over HTTPS\n" +
                     usage);
  }
  auto port = flags.GetInt("port", 1, 65535);
  auto threads = flags.GetInt("threads", 1, 64);
  auto max_connections = flags.GetInt("max-connections", 1, 1000000);
  auto grace = flags.GetDuration("shutdown-grace");
  auto sync_timeout = flags.GetDuration("sync-timeout");
  for (const Error* error :
       {port ? nullptr : &port.error(), threads ? nullptr : &threads.error(),
        max_connections ? nullptr : &max_connections.error(), grace ? nullptr : &grace.error(),
        sync_timeout ? nullptr : &sync_timeout.error()}) {
    if (error != nullptr)
      return *error;
  }
  config.server.port = static_cast<uint16_t>(*port);
  config.server.threads = static_cast<int>(*threads);
  config.server.max_connections = static_cast<size_t>(*max_connections);
  config.server.shutdown_grace = *grace;
  config.sync_timeout = *sync_timeout;
  config.kubeconfig = flags.GetString("kubeconfig");
  config.context = flags.GetString("context");
  config.log_level = flags.GetString("log-level");
  return config;
}

http::Handler MakeMutateHandler(const PlanCache& cache, WebhookMetrics* metrics) {
  PlanLookup lookup = [&cache](const std::string& namespace_name, const std::string& name) {
    return cache.Lookup(namespace_name, name);
  };
  return [&cache, metrics, lookup](const http::Request& request) {
    if (!cache.synced()) {
      return http::Response::Text(503, "EtcdPlan cache not synced yet\n");
    }
    return HandleMutate(request, lookup, metrics);
  };
}

}  // namespace seedhop::webhook
