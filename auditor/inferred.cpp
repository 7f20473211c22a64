#include "auditor/inferred.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "auditor/object.h"
#include "common/result.h"

namespace seedhop::auditor {
namespace {

constexpr char kNamespacePlaceholder[] = "$namespace";

// Go's strconv.ParseBool, which the flag package uses for boolean flags.
std::optional<bool> ParseGoBool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (s == t) {
      return true;
    }
  }
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (s == f) {
      return false;
    }
  }
  return std::nullopt;
}

std::string StripTrailingSlash(std::string s) {
  while (s.size() > 1 && s.back() == '/') {
    s.pop_back();
  }
  return s;
}

// The container's volumeMount whose mountPath holds `path` (longest wins), or nullptr.
const nlohmann::json* MountFor(std::string_view path, const nlohmann::json& container) {
  const nlohmann::json* mounts = Find(container, {"volumeMounts"});
  if (mounts == nullptr || !mounts->is_array()) {
    return nullptr;
  }
  const nlohmann::json* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& m : *mounts) {
    const std::string mount_path = StripTrailingSlash(StringAt(m, {"mountPath"}));
    if (mount_path.empty()) {
      continue;
    }
    const bool inside =
        path == mount_path ||
        (path.size() > mount_path.size() && path.substr(0, mount_path.size()) == mount_path &&
         (path[mount_path.size()] == '/' || mount_path == "/"));
    if (inside && mount_path.size() >= best_len) {
      best = &m;
      best_len = mount_path.size();
    }
  }
  return best;
}

const nlohmann::json* VolumeNamed(const nlohmann::json& pod_spec, std::string_view name) {
  const nlohmann::json* volumes = Find(pod_spec, {"volumes"});
  if (volumes == nullptr || !volumes->is_array()) {
    return nullptr;
  }
  for (const auto& v : *volumes) {
    if (StringAt(v, {"name"}) == name) {
      return &v;
    }
  }
  return nullptr;
}

// Secret (or ConfigMap, with `configmaps`) names a volume draws from: plain or projected.
std::vector<std::string> VolumeSources(const nlohmann::json& volume, bool configmaps) {
  std::vector<std::string> out;
  const std::string direct = configmaps ? StringAt(volume, {"configMap", "name"})
                                        : StringAt(volume, {"secret", "secretName"});
  if (!direct.empty()) {
    out.push_back(direct);
  }
  const nlohmann::json* sources = Find(volume, {"projected", "sources"});
  if (sources != nullptr && sources->is_array()) {
    for (const auto& s : *sources) {
      const std::string name = StringAt(s, {configmaps ? "configMap" : "secret", "name"});
      if (!name.empty()) {
        out.push_back(name);
      }
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : std::string(sep)) + i;
  }
  return out;
}

// The component-config document a container reads from `path`: the ConfigMap key behind the
// volume mounted there. Errors say which link of that chain is missing.
Result<YAML::Node> ReadConfigFile(const std::string& path, const nlohmann::json& pod_spec,
                                  const nlohmann::json& container, const NamespaceSnapshot& ns,
                                  std::string& source) {
  const nlohmann::json* mount = MountFor(path, container);
  const nlohmann::json* volume =
      mount == nullptr ? nullptr : VolumeNamed(pod_spec, StringAt(*mount, {"name"}));
  const std::vector<std::string> configmaps =
      volume == nullptr ? std::vector<std::string>{} : VolumeSources(*volume, true);
  if (configmaps.empty()) {
    return Error(ErrorCode::kNotFound, "config file " + path + " is not on a ConfigMap volume");
  }
  const std::string mount_path = StripTrailingSlash(StringAt(*mount, {"mountPath"}));
  std::string key = path.size() > mount_path.size() ? path.substr(mount_path.size() + 1) : "";
  if (const nlohmann::json* items = Find(*volume, {"configMap", "items"});
      items != nullptr && items->is_array()) {
    for (const auto& item : *items) {
      if (StringAt(item, {"path"}) == key) {
        key = StringAt(item, {"key"});
      }
    }
  }
  for (const auto& cm : ns.configmaps) {
    const std::string name = NameOf(cm);
    if (std::find(configmaps.begin(), configmaps.end(), name) == configmaps.end()) {
      continue;
    }
    const nlohmann::json* data = Find(cm, {"data", key});
    if (data == nullptr || !data->is_string()) {
      continue;
    }
    source = "configmaps/" + name + " key " + key;
    try {
      return YAML::Load(data->get<std::string>());
    } catch (const YAML::Exception& e) {
      return Error(ErrorCode::kInvalid, source + ": not valid YAML: " + e.what());
    }
  }
  return Error(ErrorCode::kNotFound, "config file " + path + ": no ConfigMap " +
                                         Join(configmaps, ", ") + " with key " + key +
                                         " in the namespace");
}

// Follows a dotted path ("leaderElection.resourceName") through YAML maps.
std::optional<std::string> YamlScalar(const YAML::Node& doc, const std::string& dotted) {
  if (dotted.empty()) {
    return std::nullopt;
  }
  YAML::Node at = doc;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    const std::size_t dot = std::min(dotted.find('.', start), dotted.size());
    if (!at.IsMap()) {
      return std::nullopt;
    }
    // Node assignment writes through to the document in yaml-cpp; reset() rebinds instead. The
    // const operator[] does not insert missing keys.
    const YAML::Node next = static_cast<const YAML::Node&>(at)[dotted.substr(start, dot - start)];
    if (!next) {
      return std::nullopt;
    }
    at.reset(next);
    start = dot + 1;
  }
  if (!at.IsScalar()) {
    return std::nullopt;
  }
  return at.Scalar();
}

std::optional<std::string> FirstFlag(const std::vector<std::string>& args,
                                     const std::vector<std::string>& flags, std::string& which) {
  for (const auto& f : flags) {
    if (auto v = FlagValue(args, f, false)) {
      which = f;
      return v;
    }
  }
  return std::nullopt;
}

struct Election {
  bool enabled;
  std::string evidence;  // empty when nothing but the default decided
  bool invalid = false;
};

Election ReadElectionFlags(const std::vector<std::string>& args, bool default_on,
                           const Rules& rules) {
  Election e{default_on, ""};
  for (const auto& f : rules.leader_elect_flags) {
    if (auto v = FlagValue(args, f, true)) {
      auto b = ParseGoBool(*v);
      if (!b) {
        return Election{default_on, f + "=" + *v + " is not a boolean", true};
      }
      e = Election{*b, f + "=" + *v};
    }
  }
  return e;
}

InferredLock InferContainer(const ComponentRule* rule, const WorkloadRef& workload,
                            const nlohmann::json& container, const nlohmann::json& pod_spec,
                            const NamespaceSnapshot& ns, const Rules& rules) {
  InferredLock lock;
  lock.workload = workload;
  lock.container = StringAt(container, {"name"});
  lock.component = rule != nullptr ? rule->name : "";
  if (rule != nullptr && !rule->leader_election) {
    lock.location = Location::kNone;
    lock.evidence = "rule " + rule->name + ": does not elect a leader";
    return lock;
  }
  const std::vector<std::string> args = ContainerArgs(container);
  const bool default_on = rule != nullptr ? rule->leader_elect_default : true;
  Election election = ReadElectionFlags(args, default_on, rules);

  const auto& name_flags = rule != nullptr && !rule->lock_name_flags.empty()
                               ? rule->lock_name_flags
                               : rules.lock_name_flags;
  const auto& ns_flags = rule != nullptr && !rule->lock_namespace_flags.empty()
                             ? rule->lock_namespace_flags
                             : rules.lock_namespace_flags;
  std::string unused;
  lock.lock_name = FirstFlag(args, name_flags, unused)
                       .value_or(rule != nullptr ? rule->lock_name : std::string());
  lock.lock_namespace =
      FirstFlag(args, ns_flags, unused)
          .value_or(rule != nullptr ? rule->lock_namespace : kNamespacePlaceholder);

  KubeconfigTarget target;
  std::optional<std::string> config_path;
  if (rule != nullptr && rule->config) {
    config_path = FlagValue(args, rule->config->flag, false);
  }
  if (config_path) {
    std::string source;
    auto doc = ReadConfigFile(*config_path, pod_spec, container, ns, source);
    if (!doc.ok()) {
      target = KubeconfigTarget{Location::kUnknown, doc.error().message()};
    } else {
      const ConfigFileRule& c = *rule->config;
      if (auto le = YamlScalar(*doc, c.leader_elect_field)) {
        if (auto b = ParseGoBool(*le)) {
          election = Election{*b, source + ": " + c.leader_elect_field + "=" + *le};
        }
      }
      if (auto n = YamlScalar(*doc, c.lock_name_field); n && !n->empty()) {
        lock.lock_name = *n;
      }
      if (auto n = YamlScalar(*doc, c.lock_namespace_field); n && !n->empty()) {
        lock.lock_namespace = *n;
      }
      const std::string kubeconfig = YamlScalar(*doc, c.kubeconfig_field).value_or("");
      target = ClassifyKubeconfig(kubeconfig, pod_spec, container, rules);
      target.evidence = source + ": " + c.kubeconfig_field +
                        (kubeconfig.empty() ? " unset" : "=" + kubeconfig) + " => " +
                        target.evidence;
    }
  } else {
    const std::vector<std::string> generic = {"--kubeconfig"};
    const auto& flags = rule != nullptr ? rule->kubeconfig_flags : generic;
    std::string which;
    const auto value = FirstFlag(args, flags, which);
    target = ClassifyKubeconfig(value.value_or(""), pod_spec, container, rules);
    const std::string how = value ? which + "=" + *value
                                  : (flags.empty() ? std::string("no kubeconfig flag applies")
                                                   : "no " + Join(flags, "/") + " flag");
    target.evidence = how + " => " + target.evidence;
  }
  if (lock.lock_namespace == kNamespacePlaceholder) {
    lock.lock_namespace = ns.name;
  }
  if (election.invalid) {
    lock.location = Location::kUnknown;
    lock.evidence = election.evidence;
  } else if (!election.enabled) {
    lock.location = Location::kNone;
    lock.evidence =
        election.evidence.empty() ? "leader election is off by default" : election.evidence;
  } else {
    lock.location = target.location;
    lock.evidence = target.evidence;
  }
  return lock;
}

bool MentionsLeaderElection(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a.find("leader-elect") != std::string::npos || a.find("--lease-") != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> ContainerArgs(const nlohmann::json& container) {
  std::vector<std::string> out;
  for (const char* key : {"command", "args"}) {
    const nlohmann::json* list = Find(container, {key});
    if (list == nullptr || !list->is_array()) {
      continue;
    }
    for (const auto& a : *list) {
      if (a.is_string()) {
        out.push_back(a.get<std::string>());
      }
    }
  }
  return out;
}

std::optional<std::string> FlagValue(const std::vector<std::string>& args, std::string_view flag,
                                     bool boolean) {
  // Go's flag package accepts "-flag" as well as "--flag".
  const std::string_view bare = flag.substr(
      flag.find_first_not_of('-') == std::string_view::npos ? 0 : flag.find_first_not_of('-'));
  std::optional<std::string> found;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.starts_with("--")) {
      a.remove_prefix(2);
    } else if (a.starts_with("-")) {
      a.remove_prefix(1);
    } else {
      continue;
    }
    if (a == bare) {
      if (boolean) {
        found = "true";
      } else if (i + 1 < args.size() && !args[i + 1].starts_with("-")) {
        found = args[i + 1];
      } else {
        found = "";
      }
    } else if (a.size() > bare.size() && a.substr(0, bare.size()) == bare &&
               a[bare.size()] == '=') {
      found = std::string(a.substr(bare.size() + 1));
    }
  }
  return found;
}

KubeconfigTarget ClassifyKubeconfig(std::string_view value, const nlohmann::json& pod_spec,
                                    const nlohmann::json& container, const Rules& rules) {
  for (const auto& v : rules.in_cluster_values) {
    if (value == v) {
      return {Location::kSeed, "in-cluster config (the seed)"};
    }
  }
  const std::string path(value);
  if (const nlohmann::json* mount = MountFor(path, container)) {
    const std::string volume_name = StringAt(*mount, {"name"});
    const nlohmann::json* volume = VolumeNamed(pod_spec, volume_name);
    const std::vector<std::string> secrets =
        volume == nullptr ? std::vector<std::string>{} : VolumeSources(*volume, false);
    for (const auto& s : secrets) {
      for (const auto& p : rules.shoot_kubeconfig_secrets) {
        if (p.FullMatch(s)) {
          return {Location::kShoot, "volume " + volume_name + " projects secret " + s +
                                        " (generic token kubeconfig: the shoot)"};
        }
      }
    }
    if (volume != nullptr) {
      return {Location::kUnknown,
              "volume " + volume_name + " (" +
                  (secrets.empty() ? std::string("no secret") : "secrets " + Join(secrets, ", ")) +
                  ") does not say which cluster the kubeconfig points at"};
    }
  }
  for (const auto& prefix : rules.shoot_kubeconfig_paths) {
    if (path.starts_with(prefix)) {
      return {Location::kShoot, "the generic token kubeconfig path (no volume found for it)"};
    }
  }
  return {Location::kUnknown, "kubeconfig " + path + " is not on a known volume"};
}

Inference InferWorkload(const nlohmann::json& workload, std::string_view kind,
                        const NamespaceSnapshot& ns, const Rules& rules) {
  Inference out;
  const WorkloadRef ref{std::string(kind), NameOf(workload)};
  const nlohmann::json* pod_spec = Find(workload, {"spec", "template", "spec"});
  const nlohmann::json* containers =
      pod_spec == nullptr ? nullptr : Find(*pod_spec, {"containers"});
  if (containers == nullptr || !containers->is_array()) {
    out.findings.push_back(Finding{Severity::kError, WorkloadText(ref),
                                   "no spec.template.spec.containers: cannot infer its locks"});
    return out;
  }
  int64_t replicas = 1;
  if (const nlohmann::json* r = Find(workload, {"spec", "replicas"});
      r != nullptr && r->is_number_integer()) {
    replicas = r->get<int64_t>();
  }
  for (const auto& container : *containers) {
    const std::string name = StringAt(container, {"name"});
    const ComponentRule* rule = rules.MatchContainer(ref.name, name);
    if (rule == nullptr) {
      const auto args = ContainerArgs(container);
      const std::string subject = WorkloadText(ref) + " container " + name;
      if (!MentionsLeaderElection(args)) {
        out.findings.push_back(
            Finding{Severity::kInfo, subject,
                    "matches no rule and has no leader-election flag: assumed not to elect"});
        continue;
      }
      out.findings.push_back(Finding{
          Severity::kWarning, subject,
          "matches no rule but has leader-election flags: inferred with the generic flags; add a "
          "rule for it"});
    }
    InferredLock lock = InferContainer(rule, ref, container, *pod_spec, ns, rules);
    lock.replicas = replicas;
    out.locks.push_back(std::move(lock));
  }
  return out;
}

Inference InferLocks(const NamespaceSnapshot& ns, const Rules& rules) {
  Inference out;
  const std::pair<const char*, const std::vector<nlohmann::json>*> kinds[] = {
      {"Deployment", &ns.deployments}, {"StatefulSet", &ns.statefulsets}};
  for (const auto& [kind, workloads] : kinds) {
    for (const auto& w : *workloads) {
      Inference one = InferWorkload(w, kind, ns, rules);
      std::move(one.locks.begin(), one.locks.end(), std::back_inserter(out.locks));
      std::move(one.findings.begin(), one.findings.end(), std::back_inserter(out.findings));
    }
  }
  return out;
}

}  // namespace seedhop::auditor
