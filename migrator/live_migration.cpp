#include "migrator/live_migration.h"

#include <arpa/inet.h>

namespace seedhop::migrator {

using nlohmann::json;

std::optional<std::string> PeerAddresses::For(int ordinal) const {
  if (!gateway.empty())
    return gateway;
  auto it = members.find(ordinal);
  if (it == members.end())
    return std::nullopt;
  return it->second;
}

namespace {

bool IsIpLiteral(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// Reads JSON fields with errors that name the object and the field path.
class Reader {
 public:
  explicit Reader(std::string object) : object_(std::move(object)) {}

  Error Invalid(const std::string& path, const std::string& problem) const {
    return Error(ErrorCode::kInvalid, "livemigration " + object_ + ": " + path + ": " + problem);
  }

  Result<std::string> String(const json& parent, const char* key, const std::string& path,
                             bool required) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      if (required)
        return Invalid(path, "required");
      return std::string();
    }
    if (!it->is_string())
      return Invalid(path, "must be a string");
    if (required && it->get_ref<const std::string&>().empty())
      return Invalid(path, "must not be empty");
    return it->get<std::string>();
  }

  Result<int64_t> Integer(const json& parent, const char* key, const std::string& path,
                          int64_t fallback) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null())
      return fallback;
    if (!it->is_number_integer())
      return Invalid(path, "must be an integer");
    return it->get<int64_t>();
  }

 private:
  std::string object_;
};

Result<SeedSpec> ParseSeed(const Reader& r, const json& spec, const char* key) {
  std::string path = std::string("spec.") + key;
  auto it = spec.find(key);
  if (it == spec.end() || !it->is_object())
    return r.Invalid(path, "required");
  SeedSpec seed;
  auto name = r.String(*it, "seed", path + ".seed", true);
  if (!name.ok())
    return name.error();
  seed.seed = *name;
  auto ingress = r.String(*it, "ingressAddress", path + ".ingressAddress", false);
  if (!ingress.ok())
    return ingress.error();
  seed.ingress_address = *ingress;
  auto peers = it->find("peerAddresses");
  if (peers == it->end() || !peers->is_array())
    return r.Invalid(path + ".peerAddresses", "required (a list)");
  for (size_t i = 0; i < peers->size(); ++i) {
    const json& entry = (*peers)[i];
    std::string entry_path = path + ".peerAddresses[" + std::to_string(i) + "]";
    if (!entry.is_object())
      return r.Invalid(entry_path, "must be an object");
    auto etcd = r.String(entry, "etcd", entry_path + ".etcd", true);
    if (!etcd.ok())
      return etcd.error();
    if (seed.peers.count(*etcd))
      return r.Invalid(entry_path + ".etcd", "duplicate etcd " + *etcd);
    PeerAddresses addresses;
    auto gateway = r.String(entry, "gateway", entry_path + ".gateway", false);
    if (!gateway.ok())
      return gateway.error();
    if (!gateway->empty() && !IsIpLiteral(*gateway))
      return r.Invalid(entry_path + ".gateway", "not an IP address: " + *gateway);
    addresses.gateway = *gateway;
    auto members = entry.find("members");
    if (members != entry.end() && !members->is_null()) {
      if (!members->is_array())
        return r.Invalid(entry_path + ".members", "must be a list");
      for (size_t m = 0; m < members->size(); ++m) {
        std::string member_path = entry_path + ".members[" + std::to_string(m) + "]";
        const json& member = (*members)[m];
        if (!member.is_object())
          return r.Invalid(member_path, "must be an object");
        auto ordinal = r.Integer(member, "ordinal", member_path + ".ordinal", -1);
        if (!ordinal.ok())
          return ordinal.error();
        if (*ordinal < 0 || *ordinal >= kMaxOrdinals)
          return r.Invalid(member_path + ".ordinal",
                           "must be 0.." + std::to_string(kMaxOrdinals - 1));
        auto address = r.String(member, "address", member_path + ".address", true);
        if (!address.ok())
          return address.error();
        if (!IsIpLiteral(*address))
          return r.Invalid(member_path + ".address", "not an IP address: " + *address);
        if (!addresses.members.emplace(static_cast<int>(*ordinal), *address).second)
          return r.Invalid(member_path + ".ordinal",
                           "duplicate ordinal " + std::to_string(*ordinal));
      }
    }
    if (addresses.gateway.empty() == addresses.members.empty())
      return r.Invalid(entry_path, "set exactly one of gateway and members");
    seed.peers.emplace(*etcd, std::move(addresses));
  }
  return seed;
}

}  // namespace

Result<MigrationSpec> ParseMigrationSpec(const json& object) {
  MigrationSpec spec;
  const json& metadata = object.contains("metadata") ? object["metadata"] : json::object();
  spec.name = metadata.value("name", "");
  spec.garden_namespace = metadata.value("namespace", "");
  Reader r(spec.garden_namespace + "/" + spec.name);
  if (spec.name.empty() || spec.garden_namespace.empty())
    return r.Invalid("metadata", "name and namespace are required");
  if (object.value("kind", "") != kLiveMigrationKind)
    return r.Invalid("kind", "must be LiveMigration");
  auto spec_it = object.find("spec");
  if (spec_it == object.end() || !spec_it->is_object())
    return r.Invalid("spec", "required");
  const json& s = *spec_it;

  auto ns = r.String(s, "shootNamespace", "spec.shootNamespace", true);
  if (!ns.ok())
    return ns.error();
  spec.shoot_namespace = *ns;
  auto source = ParseSeed(r, s, "source");
  if (!source.ok())
    return source.error();
  spec.source = std::move(source).value();
  auto target = ParseSeed(r, s, "target");
  if (!target.ok())
    return target.error();
  spec.target = std::move(target).value();
  if (spec.source.seed == spec.target.seed)
    return r.Invalid("spec.target.seed", "must differ from spec.source.seed");

  auto etcds = s.find("etcds");
  if (etcds == s.end() || !etcds->is_array() || etcds->empty())
    return r.Invalid("spec.etcds", "required (a non-empty list)");
  for (size_t i = 0; i < etcds->size(); ++i) {
    std::string path = "spec.etcds[" + std::to_string(i) + "]";
    const json& entry = (*etcds)[i];
    if (!entry.is_object())
      return r.Invalid(path, "must be an object");
    EtcdSpec etcd;
    auto name = r.String(entry, "name", path + ".name", true);
    if (!name.ok())
      return name.error();
    etcd.name = *name;
    auto replicas = r.Integer(entry, "replicas", path + ".replicas", 3);
    if (!replicas.ok())
      return replicas.error();
    if (*replicas != 1 && *replicas != 3 && *replicas != 5)
      return r.Invalid(path + ".replicas", "must be 1, 3 or 5");
    etcd.replicas = static_cast<int>(*replicas);
    for (const EtcdSpec& seen : spec.etcds) {
      if (seen.name == etcd.name)
        return r.Invalid(path + ".name", "duplicate etcd " + etcd.name);
    }
    for (const SeedSpec* seed : {&spec.source, &spec.target}) {
      if (!seed->peers.count(etcd.name))
        return r.Invalid(
            seed == &spec.source ? "spec.source.peerAddresses" : "spec.target.peerAddresses",
            "no entry for etcd " + etcd.name);
    }
    spec.etcds.push_back(etcd);
  }

  auto strategy = r.String(s, "strategy", "spec.strategy", false);
  if (!strategy.ok())
    return strategy.error();
  if (*strategy == "Swap") {
    spec.strategy = Strategy::kSwap;
  } else if (!strategy->empty() && *strategy != "Safe") {
    return r.Invalid("spec.strategy", "must be Safe or Swap, not " + *strategy);
  }
  spec.allow_unsafe_strategy = s.value("allowUnsafeStrategy", false);
  if (spec.strategy == Strategy::kSwap && !spec.allow_unsafe_strategy)
    return r.Invalid("spec.strategy",
                     "Swap drops etcd failure tolerance to 0 (see docs/migrator.md); set "
                     "spec.allowUnsafeStrategy: true to use it anyway");

  if (auto dns = s.find("dns"); dns != s.end() && dns->is_object()) {
    if (auto records = dns->find("records"); records != dns->end() && records->is_array()) {
      for (const json& record : *records) {
        if (!record.is_string() || record.get_ref<const std::string&>().empty())
          return r.Invalid("spec.dns.records", "must be DNSRecord names");
        spec.dns_records.push_back(record.get<std::string>());
      }
    }
    auto wait = r.Integer(*dns, "maxWaitSeconds", "spec.dns.maxWaitSeconds", -1);
    if (!wait.ok())
      return wait.error();
    spec.dns_max_wait_seconds = static_cast<int>(*wait);
    if (!spec.dns_records.empty() && spec.target.ingress_address.empty())
      return r.Invalid("spec.target.ingressAddress", "required when spec.dns.records is set");
  }
  auto timeout = r.Integer(s, "stepTimeoutSeconds", "spec.stepTimeoutSeconds", 600);
  if (!timeout.ok())
    return timeout.error();
  if (*timeout < 1)
    return r.Invalid("spec.stepTimeoutSeconds", "must be at least 1");
  spec.step_timeout_seconds = static_cast<int>(*timeout);
  auto policy = r.String(s, "conflictPolicy", "spec.conflictPolicy", false);
  if (!policy.ok())
    return policy.error();
  if (*policy == "Overwrite") {
    spec.conflict_policy = "overwrite";
  } else if (!policy->empty() && *policy != "Keep") {
    return r.Invalid("spec.conflictPolicy", "must be Keep or Overwrite, not " + *policy);
  }
  auto resume = r.Integer(s, "resumeRequest", "spec.resumeRequest", 0);
  if (!resume.ok())
    return resume.error();
  spec.resume_request = *resume;
  spec.abort_requested = s.value("abortRequested", false);
  return spec;
}

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPending:
      return "Pending";
    case Phase::kRunning:
      return "Running";
    case Phase::kWaiting:
      return "Waiting";
    case Phase::kHalted:
      return "Halted";
    case Phase::kDone:
      return "Done";
    case Phase::kAborted:
      return "Aborted";
  }
  return "Unknown";
}

namespace {

Phase ParsePhase(const std::string& text) {
  for (Phase phase :
       {Phase::kRunning, Phase::kWaiting, Phase::kHalted, Phase::kDone, Phase::kAborted}) {
    if (text == PhaseName(phase))
      return phase;
  }
  return Phase::kPending;
}

// uint64 values travel as strings, as in the Kubernetes API (JSON numbers lose precision past
// 2^53 in JavaScript-based tools such as kubectl's jsonpath).
uint64_t ParseU64(const json& value) {
  if (value.is_string()) {
    try {
      return std::stoull(value.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return value.is_number_unsigned() ? value.get<uint64_t>() : 0;
}

}  // namespace

Result<SideStatus> ParseSideStatus(const json& object, Side side) {
  SideStatus status;
  const json* s = nullptr;
  if (auto st = object.find("status"); st != object.end() && st->is_object()) {
    if (auto it = st->find(SideName(side)); it != st->end() && it->is_object())
      s = &*it;
  }
  if (s == nullptr)
    return status;
  try {
    status.phase = ParsePhase(s->value("phase", ""));
    status.completed_steps = s->value("completedSteps", 0);
    status.current_step = s->value("currentStep", -1);
    status.step_started = s->value("stepStarted", "");
    status.message = s->value("message", "");
    status.flow_fingerprint = s->value("flowFingerprint", "");
    status.observed_resume_request = s->value("observedResumeRequest", int64_t{0});
    status.holder = s->value("holder", "");
    for (const json& view : s->value("etcd", json::array())) {
      EtcdView v;
      v.etcd = view.value("name", "");
      v.observed_at = view.value("observedAt", "");
      v.after_step = view.value("afterStep", 0);
      v.leader_id = ParseU64(view.value("leaderID", json("0")));
      v.problem = view.value("problem", "");
      for (const json& m : view.value("members", json::array())) {
        ObservedMember member;
        member.id = ParseU64(m.value("id", json("0")));
        member.ordinal = m.value("ordinal", -1);
        member.learner = m.value("learner", false);
        member.local = m.value("local", false);
        member.healthy = m.value("healthy", false);
        member.raft_index = ParseU64(m.value("raftIndex", json("0")));
        v.members.push_back(member);
      }
      status.etcd.push_back(std::move(v));
    }
    for (const json& h : s->value("history", json::array())) {
      status.history.push_back({h.value("step", 0), h.value("name", ""), h.value("started", ""),
                                h.value("finished", ""), h.value("result", ""),
                                h.value("message", "")});
    }
  } catch (const json::exception& e) {
    return Error(ErrorCode::kInvalid, std::string("status.") + SideName(side) + ": " + e.what());
  }
  return status;
}

json ToJson(const SideStatus& status) {
  json etcd = json::array();
  for (const EtcdView& v : status.etcd) {
    json members = json::array();
    for (const ObservedMember& m : v.members) {
      members.push_back({{"id", std::to_string(m.id)},
                         {"ordinal", m.ordinal},
                         {"learner", m.learner},
                         {"local", m.local},
                         {"healthy", m.healthy},
                         {"raftIndex", std::to_string(m.raft_index)}});
    }
    json view = {{"name", v.etcd},
                 {"observedAt", v.observed_at},
                 {"afterStep", v.after_step},
                 {"leaderID", std::to_string(v.leader_id)},
                 {"members", members}};
    if (!v.problem.empty())
      view["problem"] = v.problem;
    etcd.push_back(view);
  }
  json history = json::array();
  for (const HistoryEntry& h : status.history) {
    json entry = {{"step", h.step}, {"name", h.name}, {"started", h.started}, {"result", h.result}};
    if (!h.finished.empty())
      entry["finished"] = h.finished;
    if (!h.message.empty())
      entry["message"] = h.message;
    history.push_back(entry);
  }
  json out = {{"phase", PhaseName(status.phase)},
              {"completedSteps", status.completed_steps},
              {"currentStep", status.current_step},
              {"observedResumeRequest", status.observed_resume_request},
              {"etcd", etcd},
              {"history", history}};
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"stepStarted", &status.step_started},
        {"message", &status.message},
        {"flowFingerprint", &status.flow_fingerprint},
        {"holder", &status.holder}}) {
    if (!value->empty())
      out[key] = *value;
  }
  return out;
}

}  // namespace seedhop::migrator
