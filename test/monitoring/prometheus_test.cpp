// A real Prometheus (Debian `prometheus`, loopback, 1 s scrapes) scraping the real seedhop
// binaries, which run against the API-server emulator with shoot namespaces a blocked audit, an
// admission request and a halted live migration give something to report. Checks docs/metrics.md
// against what is served (both ways), evaluates every alert and dashboard query, and runs promtool
// on the metrics and rules.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "auditor/snapshot.h"
#include "common/http/client.h"
#include "common/kube/client.h"
#include "common/yaml/yaml_json.h"
#include "test/auditor/fixtures.h"
#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/etcd_cluster.h"
#include "test/support/kube_objects.h"
#include "test/support/process.h"
#include "test/support/repo_manifest.h"

namespace seedhop::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const fs::path kRoot = SEEDHOP_SOURCE_DIR;
const fs::path kBuild = SEEDHOP_BINARY_DIR;
constexpr char kBlockedShoot[] = "shoot--dev--blocked";
// The live migration both migrators drive: the LiveMigration kMigration in the garden namespace
// kProject, moving kMigratingShoot from seed eu1 to eu2.
constexpr char kMigratingShoot[] = "shoot--dev--migrating";
constexpr char kProject[] = "garden-dev";
constexpr char kMigration[] = "migrating";

// A process Prometheus scrapes. `job` is its binary's name in the "exported by" column of
// docs/metrics.md; several processes may share a job. In `args`, {port}, {dir}, {kubeconfig}
// and {etcd} (the etcd member's client URL) are replaced before the binary starts.
struct Target {
  std::string name;  // unique: names its log and its promtool input
  std::string job;
  std::string binary;  // relative to the build directory
  std::string scheme;  // http or https (https: the serving certificate in {dir}/tls.*)
  std::vector<std::string> args;
};

// The emulator is garden and seed at once, so both migrators use its kubeconfig for both; their
// leases differ by name (seedhop-migrator-<role>). The source serves HTTPS, the target plain HTTP,
// so both ways of serving are checked.
std::vector<std::string> MigratorArgs(const std::string& role, const std::string& seed,
                                      const std::vector<std::string>& serving) {
  std::vector<std::string> args = {"run",
                                   "--role=" + role,
                                   "--seed-name=" + seed,
                                   "--garden-kubeconfig={kubeconfig}",
                                   "--seed-kubeconfig={kubeconfig}",
                                   "--lease-namespace=garden",
                                   "--etcd-client-url={etcd}",
                                   "--address=127.0.0.1",
                                   "--port={port}",
                                   "--poll-interval=200ms",
                                   "--log-level=warn"};
  args.insert(args.end(), serving.begin(), serving.end());
  return args;
}

const std::vector<Target>& Targets() {
  static const std::vector<Target> targets = {
      {"webhook",
       "webhook",
       "webhook/seedhop-webhook",
       "https",
       {"--address=127.0.0.1", "--port={port}", "--cert-file={dir}/tls.crt",
        "--key-file={dir}/tls.key", "--kubeconfig={kubeconfig}", "--log-level=warn"}},
      {"auditor",
       "auditor",
       "auditor/seedhop-auditor",
       "http",
       {"serve", "--interval=2s", "--listen=127.0.0.1:{port}", "--kubeconfig={kubeconfig}",
        "--log-level=warn"}},
      {"migrator-source", "migrator", "migrator/seedhop-migrator", "https",
       MigratorArgs("source", "eu1", {"--cert-file={dir}/tls.crt", "--key-file={dir}/tls.key"})},
      {"migrator-target", "migrator", "migrator/seedhop-migrator", "http",
       MigratorArgs("target", "eu2", {})},
  };
  return targets;
}

// One row of docs/metrics.md.
struct DocumentedMetric {
  std::string name;
  std::string type;
  std::set<std::string> exported_by;
};

std::string Trim(const std::string& text) {
  const auto first = text.find_first_not_of(" `");
  const auto last = text.find_last_not_of(" `");
  return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

std::vector<DocumentedMetric> ParseMetricsDoc() {
  std::ifstream in(kRoot / "docs" / "metrics.md");
  std::vector<DocumentedMetric> rows;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("| `seedhop_"))
      continue;
    std::vector<std::string> cells;
    std::stringstream stream(line.substr(1));
    for (std::string cell; std::getline(stream, cell, '|');)
      cells.push_back(Trim(cell));
    EXPECT_GE(cells.size(), 5u) << line;
    if (cells.size() < 5)
      continue;
    DocumentedMetric row{cells[0], cells[1], {}};
    std::stringstream binaries(cells[3]);
    for (std::string binary; std::getline(binaries, binary, ',');)
      row.exported_by.insert(Trim(binary));
    rows.push_back(row);
  }
  return rows;
}

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "no free port";
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// A child process with its output in `log`, stopped with SIGTERM (SIGKILL after 5 s).
class Process {
 public:
  Process(const std::vector<std::string>& argv, const fs::path& log) : log_(log) {
    auto pid = SpawnProcess({argv, log.string(), {}});
    EXPECT_TRUE(pid.ok()) << argv[0] << ": " << pid.error().message();
    pid_ = pid.ok() ? *pid : -1;
  }
  ~Process() {
    if (pid_ > 0)
      StopProcess(pid_, SIGTERM, 5s);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The end of the process's output, for failure messages.
  std::string Log() const { return log_.string() + ":\n" + FileTail(log_.string(), 4096); }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

std::string Replace(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
      text.replace(at, key.size(), value);
  }
  return text;
}

std::string UrlEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void WriteText(const fs::path& path, const std::string& text) {
  ASSERT_TRUE(WriteFile(path.string(), text).ok()) << path;
}

class PrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { suite_ = new Suite(); }
  static void TearDownTestSuite() {
    delete suite_;
    suite_ = nullptr;
  }

  // Everything the tests share: started once, since Prometheus needs a few scrapes.
  struct Suite {
    Suite() : emulator(emulator::EmulatorOptions{}) {
      auto made = seedhop::testing::MakeTempDir("seedhop-monitoring-");
      EXPECT_TRUE(made.ok()) << made.error().message();
      dir = made.ok() ? *made : "";
      EXPECT_TRUE(emulator.Start().ok());
      kubeconfig = (dir / "kubeconfig").string();
      EXPECT_TRUE(emulator.WriteKubeconfig(kubeconfig).ok());
      client = std::make_unique<kube::Client>(emulator.rest_config());
      LoadSeed();
      StartMigration();

      ca = MakeCa("seedhop-monitoring-ca");
      // Valid for a day: SeedhopCertificateExpiryImminent must see it.
      const CertPair leaf = MakeLeaf(ca, "seedhop", {"127.0.0.1"});
      WriteText(dir / "tls.crt", leaf.cert_pem);
      WriteText(dir / "tls.key", leaf.key_pem);
      WriteText(dir / "ca.crt", ca.cert_pem);
      scraper = std::make_unique<http::Client>(http::ClientOptions{.ca_pem = ca.cert_pem});

      std::map<std::string, std::string> static_configs;  // job -> its targets
      for (const Target& target : Targets()) {
        const uint16_t port = FreePort();
        const std::map<std::string, std::string> values = {
            {"{port}", std::to_string(port)},
            {"{dir}", dir.string()},
            {"{kubeconfig}", kubeconfig},
            {"{etcd}", etcd ? etcd->ClientUrl(0) : ""}};
        std::vector<std::string> argv = {(kBuild / target.binary).string()};
        for (const auto& arg : target.args)
          argv.push_back(Replace(arg, values));
        processes.push_back(std::make_unique<Process>(argv, dir / (target.name + ".log")));
        const std::string instance = "127.0.0.1:" + std::to_string(port);
        endpoints[target.name] = target.scheme + "://" + instance + "/metrics";
        instances[target.name] = instance;
        ++jobs[target.job];
        // The scheme is a target label rather than the job's: one job may mix HTTP and HTTPS.
        static_configs[target.job] += "      - {targets: ['" + instance +
                                      "'], labels: {__scheme__: " + target.scheme + "}}\n";
      }
      std::string scrape_configs;
      for (const auto& [job, targets] : static_configs) {
        scrape_configs += "  - job_name: " + job +
                          "\n    tls_config: {ca_file: " + (dir / "ca.crt").string() +
                          "}\n    static_configs:\n" + targets;
      }
      WriteText(dir / "prometheus.yml",
                "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n" +
                    scrape_configs);
      const uint16_t port = FreePort();
      prometheus_url = "http://127.0.0.1:" + std::to_string(port);
      processes.push_back(std::make_unique<Process>(
          std::vector<std::string>{
              "/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
              "--storage.tsdb.path=" + (dir / "data").string(),
              "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
          dir / "prometheus.log"));
      SendAdmissionReview();
    }
    ~Suite() {
      processes.clear();
      etcd.reset();
      client.reset();
      emulator.Stop();
      fs::remove_all(dir);
    }

    // The EtcdPlan CRD the webhook watches, and a shoot namespace the auditor finds blocked: the
    // auditor's reference namespace with its leases renewed now.
    void LoadSeed() {
      ASSERT_TRUE(client->Create(kCrds, RepoManifest("manifests/crds/etcdplans.yaml")).ok());
      ASSERT_TRUE(client->Create(kNamespaces, NamespaceObject(kBlockedShoot)).ok());
      const auditor::NamespaceSnapshot shoot = auditor::testing::ReferenceNamespace();
      const std::string now =
          auditor::FormatTimestamp(std::chrono::time_point_cast<std::chrono::microseconds>(
              std::chrono::system_clock::now()));
      const std::vector<std::pair<kube::ResourceRef, const std::vector<json>*>> lists = {
          {{"coordination.k8s.io", "v1", "leases", kBlockedShoot}, &shoot.leases},
          {{"", "v1", "configmaps", kBlockedShoot}, &shoot.configmaps},
          {{"", "v1", "endpoints", kBlockedShoot}, &shoot.endpoints},
          {{"apps", "v1", "deployments", kBlockedShoot}, &shoot.deployments},
          {{"apps", "v1", "statefulsets", kBlockedShoot}, &shoot.statefulsets},
          {{"", "v1", "pods", kBlockedShoot}, &shoot.pods}};
      for (const auto& [ref, objects] : lists) {
        for (json object : *objects) {
          object["metadata"]["namespace"] = kBlockedShoot;
          for (const char* key : {"uid", "resourceVersion", "creationTimestamp"})
            object["metadata"].erase(key);
          if (ref.resource == "leases" && object.contains("spec")) {
            // Held for the whole test: an expired lease is no lock and no blocker.
            object["spec"]["renewTime"] = now;
            object["spec"]["leaseDurationSeconds"] = 3600;
          }
          auto created = client->Create(ref, object);
          ASSERT_TRUE(created.ok()) << created.error().message();
        }
      }
    }

    // A LiveMigration of kMigratingShoot for both migrators, with what its first steps need: the
    // garden CRDs (LiveMigration, and ShootState as test/migrator/runtime_test.cpp defines it), the
    // lease namespace, the shoot namespace with one Secret to copy, and an etcd-main StatefulSet
    // of one pod whose client URL (--etcd-client-url) is a real one-member etcd. Steps 0-3 (labels
    // and the state copy) complete; the first etcd step halts the source after its 1 s timeout:
    // the harness's member is named "m0", not etcd-main-0, so neither migrator places it on a pod
    // of its seed, counts it unhealthy (failure tolerance -1) and sees no leader.
    void StartMigration() {
      json migration = LiveMigrationObject({.garden_namespace = kProject,
                                            .name = kMigration,
                                            .shoot_namespace = kMigratingShoot,
                                            .etcd = "etcd-main",
                                            .replicas = 1});
      migration["spec"]["stepTimeoutSeconds"] = 1;
      const std::vector<std::pair<kube::ResourceRef, json>> objects = {
          {kCrds, RepoManifest("manifests/crds/garden/livemigrations.yaml")},
          {kCrds, PreservingCrd("core.gardener.cloud", "v1beta1", "ShootState", "shootstates")},
          {kNamespaces, NamespaceObject("garden")},
          {kNamespaces, NamespaceObject(kProject)},
          {kNamespaces, NamespaceObject(kMigratingShoot)},
          {{"", "v1", "secrets", kMigratingShoot},
           {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", {{"name", "ca"}, {"labels", {{"persist", "true"}}}}},
            {"data", {{"ca.crt", "c2VjcmV0LXZhbHVl"}}}}},
          {{"apps", "v1", "statefulsets", kMigratingShoot},
           {{"apiVersion", "apps/v1"},
            {"kind", "StatefulSet"},
            {"metadata", {{"name", "etcd-main"}}},
            {"spec", {{"replicas", 1}}}}},
          {{"seedhop.io", "v1alpha1", "livemigrations", kProject}, migration}};
      for (const auto& [ref, object] : objects) {
        auto created = client->Create(ref, object);
        ASSERT_TRUE(created.ok()) << ref.Name() << ": " << created.error().message();
      }
      auto started = EtcdCluster::Start({.members = 1});
      ASSERT_TRUE(started.ok()) << started.error().message();
      etcd = std::move(started).value();
    }

    // One real admission request, so that the request histograms have observations.
    void SendAdmissionReview() {
      auto review = ReadFile((fs::path(SEEDHOP_SHARED_DIR) / "reference" / "admission" /
                              "etcd-sts-update.request.json")
                                 .string());
      ASSERT_TRUE(review.ok()) << review.error().message();
      const std::string url = endpoints.at("webhook");
      http::ClientRequest request{.method = "POST",
                                  .url = url.substr(0, url.rfind('/')) + "/mutate",
                                  .headers = {{"content-type", "application/json"}},
                                  .body = *review};
      for (int attempt = 0; attempt < 100; ++attempt) {
        auto response = scraper->Send(request);
        if (response.ok() && response->status == 200)
          return;
        std::this_thread::sleep_for(100ms);
      }
      ADD_FAILURE() << "the webhook never admitted the review:\n" << Logs();
    }

    std::string Logs() const {
      std::string logs;
      for (const auto& process : processes)
        logs += process->Log();
      return logs;
    }

    emulator::Emulator emulator;
    fs::path dir;
    std::string kubeconfig;
    std::unique_ptr<kube::Client> client;
    CertPair ca;
    std::unique_ptr<http::Client> scraper;
    std::unique_ptr<EtcdCluster> etcd;
    std::map<std::string, std::string> endpoints;  // target name -> metrics URL
    std::map<std::string, std::string> instances;  // target name -> its Prometheus instance
    std::map<std::string, int> jobs;               // job -> number of targets
    std::vector<std::unique_ptr<Process>> processes;
    std::string prometheus_url;
  };

  // The `data.result` of an instant query, or why there is none (Prometheus not up yet, or it
  // refused the query).
  static Result<json> TryQuery(const std::string& promql) {
    http::Client client(http::ClientOptions{});
    auto response =
        client.Send({.url = suite_->prometheus_url + "/api/v1/query?query=" + UrlEncode(promql)});
    if (!response.ok())
      return response.error();
    const json body = json::parse(response->body, nullptr, false);
    if (!body.is_object() || body.value("status", "") != "success" || !body.contains("data"))
      return Error(ErrorCode::kInvalid,
                   "HTTP " + std::to_string(response->status) + ": " + response->body);
    return body["data"].value("result", json::array());
  }

  // TryQuery that fails the test on an error.
  static json Query(const std::string& promql) {
    auto result = TryQuery(promql);
    if (!result.ok()) {
      ADD_FAILURE() << promql << ": " << result.error().message();
      return json::array();
    }
    return *result;
  }

  // The documented metrics of jobs Prometheus scrapes that it does not have (yet), as
  // "job: name" lines.
  static std::vector<std::string> MissingMetrics() {
    std::vector<std::string> missing;
    for (const auto& metric : ParseMetricsDoc()) {
      for (const auto& job : metric.exported_by) {
        if (!suite_->jobs.contains(job))
          continue;
        const std::string series =
            metric.type == "histogram" ? metric.name + "_count" : metric.name;
        auto found = TryQuery("count(" + series + "{job=\"" + job + "\"})");
        if (!found.ok() || found->empty())
          missing.push_back(job + ": " + metric.name);
      }
    }
    return missing;
  }

  // The `instance` labels of a query's series.
  static std::set<std::string> Instances(const json& result) {
    std::set<std::string> instances;
    for (const auto& series : result)
      instances.insert(series["metric"].value("instance", ""));
    return instances;
  }

  // Waits (up to 30 s) until every documented metric of every scraped job is in Prometheus.
  static void WaitForMetrics() {
    std::vector<std::string> missing;
    for (int i = 0; i < 60; ++i) {
      missing = MissingMetrics();
      if (missing.empty())
        return;
      std::this_thread::sleep_for(500ms);
    }
    ADD_FAILURE() << "still missing after 30 s:\n"
                  << ::testing::PrintToString(missing) << "\n"
                  << suite_->Logs();
  }

  static Suite* suite_;
};

PrometheusTest::Suite* PrometheusTest::suite_ = nullptr;

TEST_F(PrometheusTest, EveryDocumentedMetricIsServed) {
  const auto documented = ParseMetricsDoc();
  ASSERT_GE(documented.size(), 30u) << "docs/metrics.md table not parsed";
  std::set<std::string> unscraped;
  for (const auto& metric : documented) {
    for (const auto& job : metric.exported_by) {
      if (!suite_->jobs.contains(job))
        unscraped.insert(job);
    }
  }
  EXPECT_EQ(unscraped, std::set<std::string>{});
  WaitForMetrics();
  EXPECT_EQ(MissingMetrics(), std::vector<std::string>{});
  for (const auto& [job, targets] : suite_->jobs) {
    const json up = Query("up{job=\"" + job + "\"}");
    ASSERT_EQ(up.size(), static_cast<size_t>(targets)) << job;
    for (const auto& series : up)
      EXPECT_EQ(series["value"][1], "1") << series.dump();
  }
}

TEST_F(PrometheusTest, EveryServedMetricIsDocumented) {
  WaitForMetrics();
  std::set<std::string> documented;
  for (const auto& metric : ParseMetricsDoc()) {
    documented.insert(metric.name);
    if (metric.type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        documented.insert(metric.name + suffix);
    }
  }
  const json served = Query("count by (__name__) ({__name__=~\"seedhop_.+\"})");
  EXPECT_GE(served.size(), 20u);
  for (const auto& series : served) {
    const std::string name = series["metric"].value("__name__", "");
    EXPECT_TRUE(documented.contains(name)) << name << " is served but not in docs/metrics.md";
  }
}

TEST_F(PrometheusTest, EveryAlertEvaluatesAndTheObservableOnesFire) {
  WaitForMetrics();
  // The source counts the halting step's error just before it reports the halt: a scrape may fall
  // in between.
  bool halted = false;
  for (int i = 0; i < 20 && !halted; ++i) {
    halted = !Query("seedhop_migrator_halted == 1").empty();
    if (!halted)
      std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(halted) << suite_->Logs();
  auto rule =
      yaml::ReadDocuments((kRoot / "manifests" / "monitoring" / "prometheusrule.yaml").string());
  ASSERT_TRUE(rule.ok()) << rule.error().message();
  std::map<std::string, json> results;
  for (const auto& group : rule->at(0)["spec"]["groups"]) {
    for (const auto& alert : group["rules"])
      results[alert["alert"].get<std::string>()] = Query(alert["expr"].get<std::string>());
  }
  ASSERT_GE(results.size(), 10u);
  // The setup makes these true or false; the rest stay empty on a healthy, idle seed.
  EXPECT_TRUE(results.at("SeedhopWebhookDown").empty());
  // The one-day certificate of the HTTPS servers, never the plain HTTP ones' 0.
  EXPECT_EQ(Instances(results.at("SeedhopCertificateExpiryImminent")),
            (std::set<std::string>{suite_->instances.at("webhook"),
                                   suite_->instances.at("migrator-source")}));
  ASSERT_EQ(results.at("SeedhopAuditorBlockers").size(), 1u);
  EXPECT_EQ(results.at("SeedhopAuditorBlockers")[0]["metric"]["namespace"], kBlockedShoot);
  EXPECT_TRUE(results.at("SeedhopPlanCacheNotSynced").empty());
  EXPECT_TRUE(results.at("SeedhopAuditorStale").empty());
  // The migration halted at its first etcd step, on the source, which owns that step.
  ASSERT_EQ(results.at("SeedhopMigrationHalted").size(), 1u);
  EXPECT_EQ(results.at("SeedhopMigrationHalted")[0]["metric"]["shoot_namespace"], kMigratingShoot);
  EXPECT_EQ(results.at("SeedhopMigrationHalted")[0]["metric"]["role"], "source");
  EXPECT_TRUE(results.at("SeedhopMigrationStepStuck").empty());
  // Each role's migrator holds its lease (alerts_test.yaml shows it firing when none does).
  EXPECT_TRUE(results.at("SeedhopMigratorDown").empty());
  // Both migrators count the member they cannot place on a pod as unhealthy: a lost quorum, yet
  // no "one failure from losing it" for a cluster that never had 3 voters.
  EXPECT_EQ(Instances(results.at("SeedhopEtcdQuorumLost")),
            (std::set<std::string>{suite_->instances.at("migrator-source"),
                                   suite_->instances.at("migrator-target")}));
  for (const auto& series : results.at("SeedhopEtcdQuorumLost")) {
    EXPECT_EQ(series["metric"]["shoot_namespace"], kMigratingShoot);
    EXPECT_EQ(series["metric"]["etcd"], "etcd-main");
  }
  EXPECT_TRUE(results.at("SeedhopEtcdFailureToleranceZero").empty());
}

TEST_F(PrometheusTest, EveryDashboardQueryEvaluates) {
  WaitForMetrics();
  std::ifstream in(kRoot / "manifests" / "monitoring" / "dashboards" / "seedhop-migration.json");
  const json dashboard = json::parse(in);
  size_t queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", json::array())) {
      // Grafana substitutes the variable's "All" value (allValue) before Prometheus sees it.
      Query(Replace(target["expr"].get<std::string>(), {{"$shoot_namespace", ".*"}}));
      ++queries;
    }
  }
  EXPECT_GE(queries, 15u);
  const json blockers = Query("max by (namespace) (seedhop_auditor_blockers) > 0");
  EXPECT_EQ(blockers.size(), 1u);
}

TEST_F(PrometheusTest, PromtoolFindsNoProblems) {
  WaitForMetrics();
  for (const auto& [job, url] : suite_->endpoints) {
    auto response = suite_->scraper->Send({.url = url});
    ASSERT_TRUE(response.ok()) << job << ": " << response.error().message();
    const fs::path exposition = suite_->dir / (job + ".metrics");
    WriteText(exposition, response->body);
    auto [code, out] = RunShell("promtool check metrics < " + exposition.string() + " 2>&1");
    EXPECT_EQ(code, 0) << job << ":\n" << out;
  }
  auto rule =
      yaml::ReadDocuments((kRoot / "manifests" / "monitoring" / "prometheusrule.yaml").string());
  ASSERT_TRUE(rule.ok()) << rule.error().message();
  const fs::path rules = suite_->dir / "rules.json";  // JSON is YAML: promtool reads it
  WriteText(rules, rule->at(0)["spec"].dump());
  auto [code, out] = RunShell("promtool check rules " + rules.string() + " 2>&1");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

}  // namespace
}  // namespace seedhop::testing
