#include "auditor/rules.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <utility>

#include "common/io/file.h"

namespace seedhop::auditor {
namespace {

// Sources for every fact below: shared/design/research/leader-election-locks.md, which names the
// upstream file for each (section numbers in the comments). "$namespace" is the audited namespace.
constexpr char kDefaultRules[] = R"yaml(# seedhop-auditor built-in rules
namespacePattern: "shoot--.*--.*"
# gardener/gardener pkg/utils/gardener/shoot.go InjectGenericKubeconfig(): a projected volume of
# generic-token-kubeconfig-<hash> (key kubeconfig) + shoot-access-<component> (key token),
# mounted at VolumeMountPathGenericKubeconfig (research 2.1).
shootKubeconfigSecrets: ["generic-token-kubeconfig(-.*)?"]
shootKubeconfigPaths: ["/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/"]
# MCM/aws controllers "--control-kubeconfig=inClusterConfig", dns "--target=IN-CLUSTER" (research 6.1).
inClusterValues: ["", "inClusterConfig", "IN-CLUSTER"]
# component-base BindLeaderElectionFlags, kubernetes-csi, controller-runtime, dependency-watchdog (1.3).
leaderElectFlags: ["--leader-elect", "--leader-election", "--enable-leader-election"]
lockNameFlags: ["--leader-elect-resource-name", "--leader-election-id", "--lease-name"]
lockNamespaceFlags: ["--leader-elect-resource-namespace", "--leader-election-namespace"]
notLocks:
  # gardener/etcd-druid api/core/v1alpha1/helper.go, internal/component/memberlease (research 2.2).
  - name: etcd-druid member lease
    labels: {app.kubernetes.io/component: etcd-member-lease}
  - name: etcd-druid snapshot lease
    labels: {app.kubernetes.io/component: etcd-snapshot-lease}
  - name: etcd-druid member lease
    leaseName: "etcd-[a-z0-9-]+-[0-9]+"
    holder: "[0-9a-f]*:(Leader|Member)"
  - name: etcd-druid snapshot lease
    leaseName: "etcd-[a-z0-9-]+-(full|delta)-snap"
  # kubernetes/kubernetes pkg/controlplane/apiserver/server.go IdentityLeaseComponentLabelKey
  # (older releases: k8s.io/component).
  - name: kube-apiserver identity lease
    labels: {apiserver.kubernetes.io/identity: kube-apiserver}
  - name: kube-apiserver identity lease
    labels: {k8s.io/component: kube-apiserver}
components:
  # g/g pkg/component/kubernetes/controllermanager/controllermanager.go computeCommand(), waiter.go.
  - name: kube-controller-manager
    containers: "kube-controller-manager"
    locks: ["kube-controller-manager"]
    lock: {name: kube-controller-manager, namespace: kube-system}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # g/g pkg/component/kubernetes/scheduler/scheduler.go: component config kube-scheduler-config-*.
  - name: kube-scheduler
    containers: "kube-scheduler"
    locks: ["kube-scheduler"]
    lock: {name: kube-scheduler, namespace: kube-system}
    kubeconfigFlags: ["--kubeconfig"]
    config:
      flag: "--config"
      kubeconfigField: clientConnection.kubeconfig
      leaderElectField: leaderElection.leaderElect
      lockNameField: leaderElection.resourceName
      lockNamespaceField: leaderElection.resourceNamespace
    expected: shoot
  # g/g clusterautoscaler/cluster_autoscaler.go; kubernetes/autoscaler cluster-autoscaler/main.go.
  - name: cluster-autoscaler
    containers: "cluster-autoscaler"
    locks: ["cluster-autoscaler"]
    lock: {name: cluster-autoscaler, namespace: kube-system}
    lockNamespaceFlags: ["--namespace"]
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # gardener/machine-controller-manager cmd/machine-controller-manager/app/controllermanager.go:
  # the lock client is built from --control-kubeconfig, namespace --namespace.
  - name: machine-controller-manager
    containers: "machine-controller-manager"
    locks: ["machine-controller-manager"]
    lock: {name: machine-controller-manager, namespace: $namespace}
    lockNamespaceFlags: ["--namespace"]
    kubeconfigFlags: ["--control-kubeconfig"]
    expected: seed
    advice: >-
      Scale machine-controller-manager to 0 on the source seed before it starts on the target
      (GEP-39 deletes MCM on the source first); its lock lives in each seed.
  # gardener/machine-controller-manager pkg/util/provider/app/app.go (provider sidecar).
  - name: machine-controller
    containers: "machine-controller-manager-.+"
    locks: ["machine-controller"]
    lock: {name: machine-controller, namespace: $namespace}
    lockNamespaceFlags: ["--namespace"]
    kubeconfigFlags: ["--control-kubeconfig"]
    expected: seed
    advice: >-
      The provider sidecar runs in the machine-controller-manager pod: scaling that Deployment to 0
      on the source seed before the target starts it stops both.
  # g/g pkg/component/gardener/resourcemanager/resource_manager.go; cmd/gardener-resource-manager:
  # manager.New(sourceRESTConfig) elects on the source cluster, which is in-cluster (the seed).
  - name: gardener-resource-manager
    containers: "gardener-resource-manager"
    locks: ["gardener-resource-manager"]
    lock: {name: gardener-resource-manager, namespace: $namespace}
    kubeconfigFlags: []
    config:
      flag: "--config"
      kubeconfigField: sourceClientConnection.kubeconfig
      leaderElectField: leaderElection.leaderElect
      lockNameField: leaderElection.resourceName
      lockNamespaceField: leaderElection.resourceNamespace
    expected: seed
    advice: >-
      Set keepObjects on the shoot's ManagedResources and scale gardener-resource-manager to 0 on
      the source seed before the target's starts (GEP-39 order).
  # g/g pkg/component/autoscaling/vpa/recommender.go, updater.go (shoot instances).
  - name: vpa-recommender
    containers: "(vpa-)?recommender"
    locks: ["vpa-recommender", "vpa-recommender-lease"]
    lock: {name: vpa-recommender-lease, namespace: kube-system}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  - name: vpa-updater
    containers: "(vpa-)?updater"
    locks: ["vpa-updater"]
    lock: {name: vpa-updater, namespace: kube-system}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # provider-aws charts/internal/seed-controlplane/charts/cloud-controller-manager; k8s.io/cloud-provider.
  - name: cloud-controller-manager
    containers: "(aws-)?cloud-controller-manager"
    locks: ["cloud-controller-manager"]
    lock: {name: cloud-controller-manager, namespace: kube-system}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # kubernetes-csi sidecars: --leader-election defaults to false; names for ebs.csi.aws.com
  # (csi-lib-utils leaderelection/leader_election.go; provider-aws csi-driver-controller).
  - name: csi-provisioner
    containers: "csi-provisioner"
    locks: ["[a-z0-9]+-csi-[a-z0-9-]+"]
    leaderElectDefault: false
    lock: {name: ebs-csi-aws-com, namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  - name: csi-attacher
    containers: "csi-attacher"
    locks: ["external-attacher-leader-.+"]
    leaderElectDefault: false
    lock: {name: external-attacher-leader-ebs-csi-aws-com, namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  - name: csi-resizer
    containers: "csi-resizer"
    locks: ["external-resizer-.+"]
    leaderElectDefault: false
    lock: {name: external-resizer-ebs-csi-aws-com, namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  - name: csi-snapshotter
    containers: "csi-snapshotter"
    locks: ["external-snapshotter-leader-.+"]
    leaderElectDefault: false
    lock: {name: external-snapshotter-leader-ebs-csi-aws-com, namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # Lock name not verified by the research (section 3).
  - name: csi-volume-modifier
    containers: "csi-volume-modifier"
    leaderElectDefault: false
    lock: {name: "", namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # provider-aws csi-snapshot-controller-deployment.yaml.
  - name: csi-snapshot-controller
    containers: "(aws-)?csi-snapshot-controller"
    locks: ["snapshot-controller-leader"]
    leaderElectDefault: false
    lock: {name: snapshot-controller-leader, namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # gardener/aws-custom-route-controller main.go, gardener/aws-ipam-controller main.go:
  # manager.New(targetConfig), so the lock follows --target-kubeconfig.
  - name: aws-custom-route-controller
    containers: "aws-custom-route-controller"
    locks: ["aws-custom-route-controller-leader-election"]
    lock: {name: aws-custom-route-controller-leader-election, namespace: $namespace}
    kubeconfigFlags: ["--target-kubeconfig", "--kubeconfig"]
    expected: shoot
  - name: aws-ipam-controller
    containers: "aws-ipam-controller"
    locks: ["aws-ipam-controller-leader-election"]
    lock: {name: aws-ipam-controller-leader-election, namespace: $namespace}
    kubeconfigFlags: ["--target-kubeconfig", "--kubeconfig"]
    expected: shoot
  - name: aws-load-balancer-controller
    containers: "aws-load-balancer-controller"
    locks: ["aws-load-balancer-controller-leader"]
    lock: {name: aws-load-balancer-controller-leader, namespace: $namespace}
    kubeconfigFlags: ["--kubeconfig"]
    expected: shoot
  # gardener-extension-shoot-cert-service deployer_seed.go; cert-management RequireLease(SourceCluster).
  - name: cert-controller-manager
    containers: "cert-controller-manager|shoot-cert-service"
    locks: ["shoot-cert-service"]
    lock: {name: shoot-cert-service, namespace: kube-system}
    lockNamespaceFlags: ["--namespace"]
    kubeconfigFlags: ["--source"]
    expected: shoot
  # gardener-extension-shoot-dns-service charts/internal/shoot-dns-service-seed (legacy and next-gen).
  - name: shoot-dns-service
    containers: "shoot-dns-service|dns-controller-manager"
    locks: ["shoot-dns-service"]
    lock: {name: shoot-dns-service, namespace: kube-system}
    lockNamespaceFlags: ["--namespace"]
    kubeconfigFlags: ["--kubeconfig"]
    config:
      flag: "--config"
      kubeconfigField: clientConnection.kubeconfig
      leaderElectField: leaderElection.leaderElect
      lockNameField: leaderElection.resourceName
      lockNamespaceField: leaderElection.resourceNamespace
    expected: shoot
  # No leader election (research 2.2 and table 5).
  - name: kube-apiserver
    containers: "kube-apiserver"
    leaderElection: false
    expected: none
  - name: etcd
    containers: "etcd|backup-restore"
    leaderElection: false
    expected: none
  - name: vpa-admission-controller
    containers: "(vpa-)?admission-controller"
    leaderElection: false
    expected: none
  - name: no-leader-election
    containers: "event-logger|kube-state-metrics|prometheus|alertmanager|plutono|vali|blackbox-exporter|vpn-seed-server|config-reloader|prometheus-config-reloader|sidecar|dashboard-refresher|vali-curator|telegraf|kube-rbac-proxy|envoy-proxy|openvpn-exporter|vpn-shoot-.*|istio-proxy"
    leaderElection: false
    expected: none
)yaml";

std::string Path(const std::string& parent, const std::string& field) {
  return parent.empty() ? field : parent + "." + field;
}

Error FieldError(const std::string& path, const std::string& message) {
  return Error(ErrorCode::kInvalid, "rules: " + path + ": " + message);
}

// The typed readers below turn yaml-cpp's exceptions into errors that name the field.
Result<std::string> ReadString(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    return FieldError(path, "must be a string");
  }
  return node.Scalar();
}

Result<bool> ReadBool(const YAML::Node& node, const std::string& path) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return FieldError(path, "must be true or false");
  }
  return value;
}

Result<std::vector<std::string>> ReadStrings(const YAML::Node& node, const std::string& path) {
  if (!node.IsSequence()) {
    return FieldError(path, "must be a list of strings");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto s = ReadString(node[i], path + "[" + std::to_string(i) + "]");
    if (!s.ok()) {
      return s.error();
    }
    out.push_back(std::move(*s));
  }
  return out;
}

Result<Pattern> ReadPattern(const YAML::Node& node, const std::string& path) {
  auto s = ReadString(node, path);
  if (!s.ok()) {
    return s.error();
  }
  auto p = Pattern::Compile(*s);
  if (!p.ok()) {
    return FieldError(path, p.error().message());
  }
  return std::move(*p);
}

Result<std::vector<Pattern>> ReadPatterns(const YAML::Node& node, const std::string& path) {
  auto strings = ReadStrings(node, path);
  if (!strings.ok()) {
    return strings.error();
  }
  std::vector<Pattern> out;
  for (std::size_t i = 0; i < strings->size(); ++i) {
    auto p = Pattern::Compile((*strings)[i]);
    if (!p.ok()) {
      return FieldError(path + "[" + std::to_string(i) + "]", p.error().message());
    }
    out.push_back(std::move(*p));
  }
  return out;
}

Status CheckKeys(const YAML::Node& node, const std::string& path,
                 std::initializer_list<std::string_view> known) {
  if (!node.IsMap()) {
    return FieldError(path.empty() ? "(top level)" : path, "must be a mapping");
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    bool found = false;
    for (auto k : known) {
      found = found || k == key;
    }
    if (!found) {
      return FieldError(Path(path, key), "unknown field");
    }
  }
  return OkStatus();
}

// Assigns `target` from node[key] when present, through `reader`.
template <typename T, typename Reader>
Status Assign(const YAML::Node& node, const std::string& key, const std::string& path,
              Reader reader, T& target) {
  const YAML::Node child = node[key];
  if (!child) {
    return OkStatus();
  }
  auto value = reader(child, Path(path, key));
  if (!value.ok()) {
    return value.error();
  }
  target = std::move(*value);
  return OkStatus();
}

#define RETURN_IF_ERROR(expr) \
  do {                        \
    auto status_ = (expr);    \
    if (!status_.ok()) {      \
      return status_.error(); \
    }                         \
  } while (false)

Result<NotLockRule> ReadNotLock(const YAML::Node& node, const std::string& path) {
  RETURN_IF_ERROR(CheckKeys(node, path, {"name", "leaseName", "labels", "holder"}));
  NotLockRule rule;
  if (!node["name"]) {
    return FieldError(Path(path, "name"), "is required");
  }
  RETURN_IF_ERROR(Assign(node, "name", path, ReadString, rule.name));
  RETURN_IF_ERROR(Assign(node, "leaseName", path, ReadPattern, rule.lease_name));
  RETURN_IF_ERROR(Assign(node, "holder", path, ReadPattern, rule.holder));
  if (const YAML::Node labels = node["labels"]) {
    if (!labels.IsMap()) {
      return FieldError(Path(path, "labels"), "must be a mapping of label key to value");
    }
    for (const auto& kv : labels) {
      auto value = ReadString(kv.second, Path(path, "labels." + kv.first.Scalar()));
      if (!value.ok()) {
        return value.error();
      }
      rule.labels[kv.first.Scalar()] = *value;
    }
  }
  if (!rule.lease_name && !rule.holder && rule.labels.empty()) {
    return FieldError(path, "needs at least one of leaseName, labels, holder");
  }
  return rule;
}

Result<ConfigFileRule> ReadConfigFile(const YAML::Node& node, const std::string& path) {
  RETURN_IF_ERROR(CheckKeys(
      node, path,
      {"flag", "kubeconfigField", "leaderElectField", "lockNameField", "lockNamespaceField"}));
  ConfigFileRule rule;
  if (!node["flag"]) {
    return FieldError(Path(path, "flag"), "is required");
  }
  RETURN_IF_ERROR(Assign(node, "flag", path, ReadString, rule.flag));
  RETURN_IF_ERROR(Assign(node, "kubeconfigField", path, ReadString, rule.kubeconfig_field));
  RETURN_IF_ERROR(Assign(node, "leaderElectField", path, ReadString, rule.leader_elect_field));
  RETURN_IF_ERROR(Assign(node, "lockNameField", path, ReadString, rule.lock_name_field));
  RETURN_IF_ERROR(Assign(node, "lockNamespaceField", path, ReadString, rule.lock_namespace_field));
  return rule;
}

Result<ComponentRule> ReadComponent(const YAML::Node& node, const std::string& path) {
  RETURN_IF_ERROR(CheckKeys(
      node, path,
      {"name", "containers", "workloads", "locks", "leaderElection", "leaderElectDefault", "lock",
       "lockNameFlags", "lockNamespaceFlags", "kubeconfigFlags", "config", "expected", "advice"}));
  ComponentRule rule;
  for (const char* required : {"name", "containers"}) {
    if (!node[required]) {
      return FieldError(Path(path, required), "is required");
    }
  }
  RETURN_IF_ERROR(Assign(node, "name", path, ReadString, rule.name));
  RETURN_IF_ERROR(Assign(node, "containers", path, ReadPattern, rule.containers));
  RETURN_IF_ERROR(Assign(node, "workloads", path, ReadPattern, rule.workloads));
  RETURN_IF_ERROR(Assign(node, "locks", path, ReadPatterns, rule.lock_patterns));
  RETURN_IF_ERROR(Assign(node, "leaderElection", path, ReadBool, rule.leader_election));
  RETURN_IF_ERROR(Assign(node, "leaderElectDefault", path, ReadBool, rule.leader_elect_default));
  if (const YAML::Node lock = node["lock"]) {
    const std::string lock_path = Path(path, "lock");
    RETURN_IF_ERROR(CheckKeys(lock, lock_path, {"name", "namespace"}));
    RETURN_IF_ERROR(Assign(lock, "name", lock_path, ReadString, rule.lock_name));
    RETURN_IF_ERROR(Assign(lock, "namespace", lock_path, ReadString, rule.lock_namespace));
  }
  RETURN_IF_ERROR(Assign(node, "lockNameFlags", path, ReadStrings, rule.lock_name_flags));
  RETURN_IF_ERROR(Assign(node, "lockNamespaceFlags", path, ReadStrings, rule.lock_namespace_flags));
  RETURN_IF_ERROR(Assign(node, "kubeconfigFlags", path, ReadStrings, rule.kubeconfig_flags));
  RETURN_IF_ERROR(Assign(node, "config", path, ReadConfigFile, rule.config));
  if (node["expected"]) {
    auto s = ReadString(node["expected"], Path(path, "expected"));
    if (!s.ok()) {
      return s.error();
    }
    auto location = ParseLocation(*s);
    if (!location) {
      return FieldError(Path(path, "expected"), "must be one of shoot, seed, none, unknown");
    }
    rule.expected = *location;
  }
  RETURN_IF_ERROR(Assign(node, "advice", path, ReadString, rule.advice));
  if (rule.leader_election && rule.lock_namespace.empty()) {
    return FieldError(Path(path, "lock.namespace"),
                      "is required for a component that elects a leader");
  }
  return rule;
}

// Replaces the entry with the same name or puts `item` first; new rules win the first match.
template <typename T>
void Layer(std::vector<T>& base, std::vector<T> overlay) {
  std::vector<T> added;
  for (auto& item : overlay) {
    bool replaced = false;
    for (auto& existing : base) {
      if (existing.name == item.name) {
        existing = item;
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      added.push_back(std::move(item));
    }
  }
  base.insert(base.begin(), std::make_move_iterator(added.begin()),
              std::make_move_iterator(added.end()));
}

Result<Rules> ParseRulesDocument(const YAML::Node& root, const Rules& base) {
  RETURN_IF_ERROR(CheckKeys(root, "",
                            {"replaceDefaults", "namespacePattern", "shootKubeconfigSecrets",
                             "shootKubeconfigPaths", "inClusterValues", "leaderElectFlags",
                             "lockNameFlags", "lockNamespaceFlags", "notLocks", "components"}));
  bool replace = false;
  RETURN_IF_ERROR(Assign(root, "replaceDefaults", "", ReadBool, replace));
  Rules rules = replace ? Rules{} : base;
  RETURN_IF_ERROR(Assign(root, "namespacePattern", "", ReadPattern, rules.namespace_pattern));
  RETURN_IF_ERROR(
      Assign(root, "shootKubeconfigSecrets", "", ReadPatterns, rules.shoot_kubeconfig_secrets));
  RETURN_IF_ERROR(
      Assign(root, "shootKubeconfigPaths", "", ReadStrings, rules.shoot_kubeconfig_paths));
  RETURN_IF_ERROR(Assign(root, "inClusterValues", "", ReadStrings, rules.in_cluster_values));
  RETURN_IF_ERROR(Assign(root, "leaderElectFlags", "", ReadStrings, rules.leader_elect_flags));
  RETURN_IF_ERROR(Assign(root, "lockNameFlags", "", ReadStrings, rules.lock_name_flags));
  RETURN_IF_ERROR(Assign(root, "lockNamespaceFlags", "", ReadStrings, rules.lock_namespace_flags));

  if (const YAML::Node list = root["notLocks"]) {
    if (!list.IsSequence()) {
      return FieldError("notLocks", "must be a list");
    }
    std::vector<NotLockRule> overlay;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto rule = ReadNotLock(list[i], "notLocks[" + std::to_string(i) + "]");
      if (!rule.ok()) {
        return rule.error();
      }
      overlay.push_back(std::move(*rule));
    }
    Layer(rules.not_locks, std::move(overlay));
  }
  if (const YAML::Node list = root["components"]) {
    if (!list.IsSequence()) {
      return FieldError("components", "must be a list");
    }
    std::vector<ComponentRule> overlay;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string path = "components[" + std::to_string(i) + "]";
      auto rule = ReadComponent(list[i], path);
      if (!rule.ok()) {
        return rule.error();
      }
      for (const auto& seen : overlay) {
        if (seen.name == rule->name) {
          return FieldError(Path(path, "name"), "duplicate component \"" + rule->name + "\"");
        }
      }
      overlay.push_back(std::move(*rule));
    }
    Layer(rules.components, std::move(overlay));
  }
  if (rules.namespace_pattern.source().empty()) {
    return FieldError("namespacePattern", "is required");
  }
  return rules;
}

}  // namespace

const char* LocationName(Location location) {
  switch (location) {
    case Location::kShoot:
      return "shoot";
    case Location::kSeed:
      return "seed";
    case Location::kNone:
      return "none";
    case Location::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<Location> ParseLocation(std::string_view name) {
  for (Location l : {Location::kShoot, Location::kSeed, Location::kNone, Location::kUnknown}) {
    if (name == LocationName(l)) {
      return l;
    }
  }
  return std::nullopt;
}

Result<Pattern> Pattern::Compile(const std::string& source) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(source, options);
  if (!re->ok()) {
    return Error(ErrorCode::kInvalid, "invalid re2 pattern \"" + source + "\": " + re->error());
  }
  return Pattern(source, std::move(re));
}

bool Pattern::FullMatch(std::string_view subject) const {
  return re_ != nullptr && RE2::FullMatch(subject, *re_);
}

const ComponentRule* Rules::MatchContainer(std::string_view workload,
                                           std::string_view container) const {
  for (const auto& c : components) {
    if (c.containers.FullMatch(container) && (!c.workloads || c.workloads->FullMatch(workload))) {
      return &c;
    }
  }
  return nullptr;
}

const ComponentRule* Rules::MatchLock(std::string_view lock_name) const {
  for (const auto& c : components) {
    for (const auto& p : c.lock_patterns) {
      if (p.FullMatch(lock_name)) {
        return &c;
      }
    }
  }
  return nullptr;
}

const ComponentRule* Rules::Find(std::string_view name) const {
  for (const auto& c : components) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

std::string_view DefaultRulesYaml() {
  return kDefaultRules;
}

Rules DefaultRules() {
  auto rules = ParseRules(kDefaultRules, Rules{});
  return std::move(rules).value();
}

Result<Rules> ParseRules(std::string_view yaml, const Rules& base) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalid, std::string("rules: not valid YAML: ") + e.what());
  }
  if (root.IsNull()) {
    return base;
  }
  try {
    return ParseRulesDocument(root, base);
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalid, std::string("rules: ") + e.what());
  }
}

Result<Rules> LoadRulesFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return text.error().Wrap("rules file");
  }
  auto rules = ParseRules(*text, DefaultRules());
  if (!rules.ok()) {
    return rules.error().Wrap("rules file " + path);
  }
  return rules;
}

}  // namespace seedhop::auditor
