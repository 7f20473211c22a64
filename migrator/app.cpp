#include "migrator/app.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/cli/flags.h"
#include "common/http/server.h"
#include "common/io/file.h"
#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "migrator/leader.h"
#include "migrator/metrics.h"
#include "migrator/runner.h"
#include "migrator/status_view.h"

namespace seedhop::migrator {

using nlohmann::json;

std::string Usage() {
  return "usage: seedhop-migrator COMMAND [flags]\n"
         "  run     --role source|target --seed-name S --garden-kubeconfig F [flags]\n"
         "          drive every LiveMigration whose spec.<role>.seed is S\n"
         "  status  --garden-kubeconfig F -n NAMESPACE NAME [-o json]\n"
         "  resume  --garden-kubeconfig F -n NAMESPACE NAME   retry a halted step\n"
         "  abort   --garden-kubeconfig F -n NAMESPACE NAME   roll back before the point of "
         "no return\n"
         "Run a command with --help for its flags.\n";
}

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  g_stop = true;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return 2;
}

Result<kube::RestConfig> Kubeconfig(const std::string& path, const std::string& flag) {
  auto config = path.empty() ? kube::InClusterConfig() : kube::LoadKubeconfig(path);
  if (!config.ok())
    return config.error().Wrap(flag);
  return config;
}

// Flags every garden-facing command shares, parsed with the command's own.
struct GardenTarget {
  std::string kubeconfig;
  std::string garden_namespace;
  std::string name;
};

Result<GardenTarget> ParseGardenTarget(cli::FlagSet& flags, const std::vector<std::string>& args,
                                       const std::string& usage) {
  flags.String("garden-kubeconfig", "", "kubeconfig of the garden cluster");
  flags.String("n", "", "the LiveMigration's namespace (the shoot's project namespace)");
  flags.Bool("help", false, "print this text");
  Status parsed = flags.Parse(args);
  std::string text = usage + flags.Usage();
  if (!parsed.ok())
    return Error(ErrorCode::kInvalid, parsed.error().message() + "\n" + text);
  if (flags.GetBool("help"))
    return Error(ErrorCode::kInvalid, text);
  GardenTarget target{flags.GetString("garden-kubeconfig"), flags.GetString("n"), ""};
  if (flags.positional().size() != 1 || target.garden_namespace.empty())
    return Error(ErrorCode::kInvalid, "want -n NAMESPACE and one LiveMigration name\n" + text);
  target.name = flags.positional()[0];
  return target;
}

struct Loaded {
  json object;
  MigrationSpec spec;
  std::vector<FlowStep> flow;
  SideStatus source;
  SideStatus target;
};

Result<Loaded> Load(kube::Client& garden, const GardenTarget& target) {
  auto object = garden.Get(LiveMigrations(target.garden_namespace), target.name);
  if (!object.ok())
    return object.error();
  auto spec = ParseMigrationSpec(*object);
  if (!spec.ok())
    return spec.error();
  auto flow = BuildFlow(*spec);
  if (!flow.ok())
    return flow.error();
  auto source = ParseSideStatus(*object, Side::kSource);
  auto target_status = ParseSideStatus(*object, Side::kTarget);
  if (!source.ok())
    return source.error();
  if (!target_status.ok())
    return target_status.error();
  return Loaded{std::move(object).value(), std::move(spec).value(), std::move(flow).value(),
                std::move(source).value(), std::move(target_status).value()};
}

// What PatchSpec returns when the object changed since it was loaded: WithGarden loads it again
// and the command decides again on what it finds.
constexpr int kChangedMeanwhile = -1;
// How often an operator command decides again before giving up; the migrators write status
// several times a second during a move, so one conflict is common and several in a row are not.
constexpr int kDecisions = 5;

// Writes spec changes with the object's resourceVersion as precondition: an operator command
// never overwrites a concurrent change (kChangedMeanwhile instead).
int PatchSpec(kube::Client& garden, const GardenTarget& target, const Loaded& loaded,
              const json& spec_patch, const std::string& done_message) {
  json patch = {{"metadata", {{"resourceVersion", loaded.object["metadata"]["resourceVersion"]}}},
                {"spec", spec_patch}};
  auto patched = garden.Patch(LiveMigrations(target.garden_namespace), target.name,
                              kube::PatchType::kMerge, patch);
  if (!patched.ok() && patched.error().code() == ErrorCode::kConflict)
    return kChangedMeanwhile;
  if (!patched.ok()) {
    std::fprintf(stderr, "%s\n", patched.error().message().c_str());
    return 1;
  }
  std::printf("%s\n", done_message.c_str());
  return 0;
}

template <typename Body>
int WithGarden(const std::vector<std::string>& args, const std::string& usage,
               void (*declare)(cli::FlagSet&), Body body) {
  cli::FlagSet flags;
  if (declare)
    declare(flags);
  auto target = ParseGardenTarget(flags, args, usage);
  if (!target.ok())
    return UsageError(target.error().message());
  auto config = Kubeconfig(target->kubeconfig, "--garden-kubeconfig");
  if (!config.ok())
    return UsageError(config.error().message());
  // Retries are worth seeing: they are why a command takes seconds instead of milliseconds.
  obs::Logger logger("seedhop-migrator", obs::LogLevel::kWarn);
  kube::ClientOptions client_options;
  client_options.logger = &logger;
  kube::Client garden(*config, client_options);
  for (int decision = 0; decision < kDecisions; ++decision) {
    auto loaded = Load(garden, *target);
    if (!loaded.ok()) {
      std::fprintf(stderr, "livemigration %s/%s: %s\n", target->garden_namespace.c_str(),
                   target->name.c_str(), loaded.error().message().c_str());
      return 1;
    }
    int code = body(flags, garden, *target, *loaded);
    if (code != kChangedMeanwhile)
      return code;
  }
  std::fprintf(stderr,
               "livemigration %s/%s: changed by someone else %d times in a row; nothing written\n",
               target->garden_namespace.c_str(), target->name.c_str(), kDecisions);
  return 1;
}

}  // namespace

int StatusCommand(const std::vector<std::string>& args) {
  return WithGarden(
      args, "usage: seedhop-migrator status -n NAMESPACE NAME [flags]\n",
      [](cli::FlagSet& flags) { flags.String("o", "text", "output: text or json"); },
      [](cli::FlagSet& flags, kube::Client&, const GardenTarget&, const Loaded& loaded) {
        if (flags.GetString("o") == "json") {
          std::printf("%s\n", loaded.object.value("status", json::object()).dump(2).c_str());
        } else {
          std::fputs(RenderStatus(loaded.spec, loaded.flow, loaded.source, loaded.target).c_str(),
                     stdout);
        }
        bool halted =
            loaded.source.phase == Phase::kHalted || loaded.target.phase == Phase::kHalted;
        return halted ? 1 : 0;
      });
}

int ResumeCommand(const std::vector<std::string>& args) {
  return WithGarden(
      args, "usage: seedhop-migrator resume -n NAMESPACE NAME [flags]\n", nullptr,
      [](cli::FlagSet&, kube::Client& garden, const GardenTarget& target, const Loaded& loaded) {
        int64_t next = loaded.spec.resume_request + 1;
        return PatchSpec(
            garden, target, loaded, {{"resumeRequest", next}},
            "resume requested (" + std::to_string(next) + "); halted steps are attempted again");
      });
}

int AbortCommand(const std::vector<std::string>& args) {
  return WithGarden(
      args, "usage: seedhop-migrator abort -n NAMESPACE NAME [flags]\n", nullptr,
      [](cli::FlagSet&, kube::Client& garden, const GardenTarget& target, const Loaded& loaded) {
        int done = std::max(loaded.source.completed_steps, loaded.target.completed_steps);
        int no_return = PointOfNoReturn(loaded.flow);
        if (done >= no_return) {
          std::fprintf(stderr,
                       "abort refused: %d steps are done and etcd members started moving at "
                       "step %d (%s); the way out is forward: seedhop-migrator resume\n",
                       done, no_return, loaded.flow[no_return].Name().c_str());
          return 1;
        }
        return PatchSpec(garden, target, loaded, {{"abortRequested", true}},
                         "abort requested; both migrators undo their seed changes");
      });
}

int RunCommand(const std::vector<std::string>& args) {
  cli::FlagSet flags;
  flags.String("role", "", "source or target");
  flags.String("seed-name", "", "this seed's name, as LiveMigrations name it");
  flags.String("garden-kubeconfig", "", "kubeconfig of the garden cluster");
  flags.String("seed-kubeconfig", "", "kubeconfig of this seed; empty: in-cluster configuration");
  flags.String("garden-namespace", "", "watch LiveMigrations only in this namespace; empty: all");
  flags.String("lease-namespace", "garden", "namespace of the leader-election Lease on the seed");
  flags.String("identity", "", "this replica's name in the Lease; empty: $POD_NAME or hostname");
  flags.String("etcd-client-url", "https://{pod}.{etcd}-peer.{namespace}.svc:2379",
               "an etcd pod's client URL ({pod}, {etcd}, {namespace} are replaced)");
  flags.String("etcd-peer-url", "https://{pod}.{etcd}-peer.{namespace}.svc:2380",
               "an etcd pod's peer URL, as members are added");
  flags.String("etcd-ca-file", "", "CA bundle for etcd's client port (PEM)");
  flags.String("etcd-cert-file", "", "client certificate for etcd (PEM)");
  flags.String("etcd-key-file", "", "client key for etcd (PEM)");
  flags.String("address", "0.0.0.0", "listen address for /metrics, /healthz, /readyz");
  flags.String("port", "8080", "port for /metrics, /healthz, /readyz");
  flags.String("cert-file", "", "serving certificate (PEM); empty: plain HTTP");
  flags.String("key-file", "", "serving key (PEM)");
  flags.String("poll-interval", "1s", "how often each migration's state is read");
  flags.String("log-level", "info", "debug, info, warn or error");
  flags.Bool("exit-when-done", false, "exit once every migration of this seed is done");
  flags.Bool("help", false, "print this text");
  std::string usage =
      "usage: seedhop-migrator run --role R --seed-name S [flags]\n" + flags.Usage();
  Status parsed = flags.Parse(args);
  if (!parsed.ok())
    return UsageError(parsed.error().message() + "\n" + usage);
  if (flags.GetBool("help")) {
    std::fputs(usage.c_str(), stdout);
    return 0;
  }
  std::string role_text = flags.GetString("role");
  if (role_text != "source" && role_text != "target")
    return UsageError("--role: want source or target\n" + usage);
  Side role = role_text == "source" ? Side::kSource : Side::kTarget;
  std::string seed_name = flags.GetString("seed-name");
  if (seed_name.empty())
    return UsageError("--seed-name is required\n" + usage);
  auto port = flags.GetInt("port", 1, 65535);
  auto poll = flags.GetDuration("poll-interval");
  if (!port.ok())
    return UsageError(port.error().message());
  if (!poll.ok())
    return UsageError(poll.error().message());
  obs::LogLevel level;
  if (!obs::ParseLogLevel(flags.GetString("log-level"), &level))
    return UsageError("--log-level: want debug, info, warn or error");
  obs::Logger logger("seedhop-migrator", level);

  auto garden_config = Kubeconfig(flags.GetString("garden-kubeconfig"), "--garden-kubeconfig");
  auto seed_config = Kubeconfig(flags.GetString("seed-kubeconfig"), "--seed-kubeconfig");
  if (!garden_config.ok())
    return UsageError(garden_config.error().message());
  if (!seed_config.ok())
    return UsageError(seed_config.error().message());
  http::ClientOptions etcd_tls;
  for (const auto& [flag, field] :
       {std::pair<const char*, std::string*>{"etcd-ca-file", &etcd_tls.ca_pem},
        {"etcd-cert-file", &etcd_tls.client_cert_pem},
        {"etcd-key-file", &etcd_tls.client_key_pem}}) {
    std::string path = flags.GetString(flag);
    if (path.empty())
      continue;
    auto pem = ReadFile(path);
    if (!pem.ok())
      return UsageError(std::string("--") + flag + ": " + pem.error().message());
    *field = std::move(pem).value();
  }
  std::string identity = flags.GetString("identity");
  if (identity.empty()) {
    const char* pod = std::getenv("POD_NAME");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    identity = pod != nullptr ? pod : host;
  }

  obs::Metrics metrics;
  MigratorMetrics migrator_metrics(metrics);
  kube::ClientOptions client_options;
  client_options.logger = &logger;
  client_options.metrics = &metrics;
  kube::Client garden(*garden_config, client_options);
  kube::Client seed(*seed_config, client_options);

  LeaderOptions leader_options;
  leader_options.namespace_name = flags.GetString("lease-namespace");
  leader_options.lease_name = "seedhop-migrator-" + role_text;
  leader_options.identity = identity;
  leader_options.logger = &logger;
  LeaderElector elector(&seed, leader_options);
  elector.Start();
  metrics.AddCollectHook([&elector, &migrator_metrics, role] {
    migrator_metrics.SetLeader(role, elector.IsLeader());
  });

  http::ServerOptions server_options;
  server_options.address = flags.GetString("address");
  server_options.port = static_cast<uint16_t>(*port);
  server_options.cert_file = flags.GetString("cert-file");
  server_options.key_file = flags.GetString("key-file");
  http::Server server(server_options, &metrics, &logger);
  server.AddStandardRoutes();
  if (Status started = server.Start(); !started.ok()) {
    logger.Error("cannot serve", {{"error", started.error().message()}});
    return 1;
  }

  RunnerOptions options;
  options.access.role = role;
  options.access.garden = &garden;
  options.access.seed = &seed;
  options.access.etcd_client_url = flags.GetString("etcd-client-url");
  options.access.etcd_peer_url = flags.GetString("etcd-peer-url");
  options.access.etcd_tls = etcd_tls;
  options.access.logger = &logger;
  options.access.metrics = &metrics;
  options.seed_name = seed_name;
  options.identity = identity;
  options.poll_interval = *poll;
  options.is_leader = [&elector] { return elector.IsLeader(); };
  options.metrics = &migrator_metrics;

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  // One thread per LiveMigration of this seed; a finished one is not started again until its
  // object changes (a new generation).
  struct Worker {
    std::thread thread;
    std::atomic<bool> finished{false};
    int64_t generation = 0;
  };
  std::map<std::string, std::unique_ptr<Worker>> workers;
  bool exit_when_done = flags.GetBool("exit-when-done");
  int exit_code = 0;
  std::mutex exit_mutex;
  const std::string garden_namespace = flags.GetString("garden-namespace");
  while (!g_stop) {
    auto list = garden.List(LiveMigrations(garden_namespace));
    if (!list.ok()) {
      logger.Warn("cannot list LiveMigrations", {{"error", list.error().message()}});
    } else {
      for (const json& item : (*list)["items"]) {
        const json& metadata = item["metadata"];
        std::string ns = metadata.value("namespace", "");
        std::string name = metadata.value("name", "");
        int64_t generation = metadata.value("generation", int64_t{0});
        const json& spec = item.value("spec", json::object());
        if (spec.value(role_text, json::object()).value("seed", "") != seed_name)
          continue;
        std::string key = ns + "/" + name;
        auto& worker = workers[key];
        if (worker && (!worker->finished || worker->generation == generation))
          continue;
        if (worker && worker->thread.joinable())
          worker->thread.join();
        worker = std::make_unique<Worker>();
        worker->generation = generation;
        Worker* w = worker.get();
        logger.Info("driving LiveMigration", {{"livemigration", key}, {"role", role_text}});
        w->thread = std::thread([&, w, ns, name] {
          Status result = RunMigration(options, ns, name, g_stop);
          if (!result.ok()) {
            logger.Error("migration stopped",
                         {{"livemigration", ns + "/" + name}, {"error", result.error().message()}});
            std::lock_guard lock(exit_mutex);
            exit_code = 1;
          }
          w->finished = true;
        });
      }
    }
    if (exit_when_done && !workers.empty() &&
        std::all_of(workers.begin(), workers.end(),
                    [](const auto& entry) { return entry.second->finished.load(); }))
      break;
    std::this_thread::sleep_for(*poll);
  }
  g_stop = true;
  for (auto& [key, worker] : workers) {
    if (worker->thread.joinable())
      worker->thread.join();
  }
  elector.Stop();
  server.Shutdown();
  return exit_code;
}

}  // namespace seedhop::migrator
