#include "migrator/shootstate/import.h"

#include <prometheus/counter.h>

#include <algorithm>
#include <map>
#include <optional>
#include <thread>

#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "migrator/shootstate/codec.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

constexpr char kRedacted[] = "<redacted>";

std::string NameOf(const json& object) {
  return object.value("metadata", json::object()).value("name", "");
}

kube::ResourceRef RefFor(const std::string& api_version, const std::string& kind,
                         const std::string& ns) {
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  return {group, version, PluralOf(kind), ns};
}

Result<DesiredObject> SecretFromEntry(const json& entry, const std::string& what,
                                      const std::string& ns) {
  const json state = entry.value("data", json::object());
  if (!state.is_object())
    return Error(ErrorCode::kInvalid, what + ": data: must be an object");
  const json data = state.value("data", json::object());
  if (!data.is_object())
    return Error(ErrorCode::kInvalid, what + ": data.data: must be an object");
  for (const auto& [key, value] : data.items()) {
    // The key is a file name, not a secret; the value is never echoed.
    if (!value.is_string() || !Base64Decode(value.get<std::string>())) {
      return Error(ErrorCode::kInvalid, what + ": data.data[\"" + key + "\"]: not valid base64");
    }
  }
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", entry["name"]}, {"namespace", ns}}},
                 {"data", data}};
  if (state.contains("type")) {
    if (!state["type"].is_string())
      return Error(ErrorCode::kInvalid, what + ": data.type: must be a string");
    secret["type"] = state["type"];
  }
  if (state.contains("immutable")) {
    if (!state["immutable"].is_boolean())
      return Error(ErrorCode::kInvalid, what + ": data.immutable: must be a boolean");
    secret["immutable"] = state["immutable"];
  }
  if (entry.contains("labels")) {
    if (!entry["labels"].is_object())
      return Error(ErrorCode::kInvalid, what + ": labels: must be an object");
    secret["metadata"]["labels"] = entry["labels"];
  }
  return DesiredObject{RefFor("v1", "Secret", ns), std::move(secret), false};
}

int Phase(const DesiredObject& desired) {
  if (desired.object.value("kind", "") == "Namespace")
    return 0;
  if (desired.status_only)
    return 3;
  const bool core = desired.ref.group.empty();
  const std::string kind = desired.object.value("kind", "");
  return core && (kind == "Secret" || kind == "ConfigMap") ? 1 : 2;
}

bool SameMap(const json& desired_metadata, const json& existing_metadata, const char* field) {
  if (!desired_metadata.contains(field))
    return true;
  json want = desired_metadata[field];
  json have = existing_metadata.value(field, json::object());
  if (want.is_null())
    want = json::object();
  if (have.is_null())
    have = json::object();
  return want == have;
}

bool SameContent(const DesiredObject& desired, const json& existing) {
  if (desired.status_only) {
    const json want = desired.object.value("status", json::object());
    const json have = existing.value("status", json::object());
    return want.value("state", json()) == have.value("state", json()) &&
           want.value("resources", json()) == have.value("resources", json());
  }
  for (const auto& [key, value] : desired.object.items()) {
    if (key == "apiVersion" || key == "kind" || key == "metadata" || key == "status")
      continue;
    if (existing.value(key, json()) != value)
      return false;
  }
  const json want = desired.object.value("metadata", json::object());
  const json have = existing.value("metadata", json::object());
  return SameMap(want, have, "labels") && SameMap(want, have, "annotations");
}

bool StatusEmpty(const json& existing) {
  const json status = existing.value("status", json::object());
  const json resources = status.value("resources", json());
  return status.value("state", json()).is_null() && (resources.is_null() || resources.empty());
}

void Replace(std::string& message, const std::string& needle) {
  if (needle.size() < 4)
    return;
  for (size_t pos = message.find(needle); pos != std::string::npos;
       pos = message.find(needle, pos + sizeof(kRedacted) - 1)) {
    message.replace(pos, needle.size(), kRedacted);
  }
}

// The target's objects, listed once per namespaced resource type (one request instead of one per
// object: an import of thousands of Secrets is dominated by round trips). Types the list fails for
// fall back to a Get per object.
class LiveObjects {
 public:
  Result<json> Get(kube::Client& seed, const kube::ResourceRef& ref, const std::string& name) {
    if (ref.ns.empty())
      return seed.Get(ref, name);
    const std::string key = ref.Name();
    auto it = lists_.find(key);
    if (it == lists_.end()) {
      auto listed = seed.ListAll(ref);
      std::optional<std::map<std::string, json>> by_name;
      if (listed.ok()) {
        by_name.emplace();
        for (auto& item : (*listed)["items"]) {
          std::string item_name = NameOf(item);
          (*by_name)[item_name] = std::move(item);
        }
      }
      it = lists_.emplace(key, std::move(by_name)).first;
    }
    if (!it->second)
      return seed.Get(ref, name);
    auto found = it->second->find(name);
    if (found == it->second->end())
      return Error(ErrorCode::kNotFound, ref.Name() + " " + ref.ns + "/" + name + ": not found");
    return found->second;
  }

 private:
  std::map<std::string, std::optional<std::map<std::string, json>>> lists_;
};

// Labels are the outcome only: object names would make the series unbounded.
void Record(obs::Metrics& metrics, const ImportReport& report) {
  auto& objects = prometheus::BuildCounter()
                      .Name("seedhop_migrator_shootstate_objects_total")
                      .Help("Objects handled by ShootState imports, by outcome.")
                      .Register(metrics.registry());
  for (Outcome outcome : {Outcome::kCreated, Outcome::kUpdated, Outcome::kUnchanged,
                          Outcome::kConflict, Outcome::kSkipped, Outcome::kFailed}) {
    objects.Add({{"outcome", OutcomeName(outcome)}})
        .Increment(static_cast<double>(report.Count(outcome)));
  }
  prometheus::BuildCounter()
      .Name("seedhop_migrator_shootstate_bytes_copied_total")
      .Help("Bytes of objects written to the target seed by ShootState imports.")
      .Register(metrics.registry())
      .Add({})
      .Increment(static_cast<double>(report.bytes_copied));
}

}  // namespace

Result<ConflictPolicy> ParseConflictPolicy(const std::string& text) {
  if (text == "keep")
    return ConflictPolicy::kKeep;
  if (text == "overwrite")
    return ConflictPolicy::kOverwrite;
  return Error(ErrorCode::kInvalid,
               "conflict policy \"" + text + "\": want \"keep\" or \"overwrite\"");
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCreated:
      return "created";
    case Outcome::kUpdated:
      return "updated";
    case Outcome::kUnchanged:
      return "unchanged";
    case Outcome::kConflict:
      return "conflict";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kFailed:
      return "failed";
  }
  return "unknown";
}

Result<std::vector<DesiredObject>> DesiredObjects(const json& shoot_state, const std::string& ns) {
  std::vector<DesiredObject> out;
  out.push_back({{"", "v1", "namespaces", ""},
                 {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}},
                 false});
  const json spec = shoot_state.value("spec", json::object());
  if (!spec.is_object())
    return Error(ErrorCode::kInvalid, "spec: must be an object");
  auto list = [&](const char* field) -> Result<json> {
    json items = spec.value(field, json::array());
    if (items.is_null())
      return json::array();
    if (!items.is_array())
      return Error(ErrorCode::kInvalid, std::string("spec.") + field + ": must be a list");
    return items;
  };
  auto gardener = list("gardener");
  auto resources = list("resources");
  auto extensions = list("extensions");
  for (const auto* items : {&gardener, &resources, &extensions}) {
    if (!items->ok())
      return items->error();
  }
  for (size_t i = 0; i < gardener->size(); ++i) {
    const json& entry = (*gardener)[i];
    std::string what = "spec.gardener[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.value("name", json()).is_string() ||
        entry["name"].get<std::string>().empty()) {
      return Error(ErrorCode::kInvalid, what + ": name: required");
    }
    what += " \"" + entry["name"].get<std::string>() + "\"";
    if (entry.value("type", "") != "secret")
      continue;
    auto secret = SecretFromEntry(entry, what, ns);
    if (!secret.ok())
      return secret.error();
    out.push_back(std::move(*secret));
  }
  for (size_t i = 0; i < resources->size(); ++i) {
    const json& entry = (*resources)[i];
    const std::string what = "spec.resources[" + std::to_string(i) + "]";
    if (!entry.is_object())
      return Error(ErrorCode::kInvalid, what + ": must be an object");
    const std::string api_version = entry.value("apiVersion", "");
    const std::string kind = entry.value("kind", "");
    const std::string name = entry.value("name", "");
    if (api_version.empty() || kind.empty() || name.empty())
      return Error(ErrorCode::kInvalid, what + ": apiVersion, kind and name are required");
    const json data = entry.value("data", json());
    if (!data.is_object() || data.value("kind", "") != kind ||
        data.value("apiVersion", "") != api_version || NameOf(data) != name) {
      return Error(ErrorCode::kInvalid,
                   what + " " + kind + " " + name + ": data: must be the object it names");
    }
    json object = StripServerFields(data);
    object["metadata"]["namespace"] = ns;
    out.push_back({RefFor(api_version, kind, ns), std::move(object), false});
  }
  for (size_t i = 0; i < extensions->size(); ++i) {
    const json& entry = (*extensions)[i];
    const std::string what = "spec.extensions[" + std::to_string(i) + "]";
    if (!entry.is_object() || entry.value("kind", "").empty() || entry.value("name", "").empty())
      return Error(ErrorCode::kInvalid, what + ": kind and name are required");
    json status = json::object();
    if (entry.contains("state"))
      status["state"] = entry["state"];
    if (entry.contains("resources"))
      status["resources"] = entry["resources"];
    const std::string kind = entry["kind"].get<std::string>();
    out.push_back({RefFor(kExtensionsApiVersion, kind, ns),
                   {{"apiVersion", kExtensionsApiVersion},
                    {"kind", kind},
                    {"metadata", {{"name", entry["name"]}, {"namespace", ns}}},
                    {"status", std::move(status)}},
                   true});
  }
  std::stable_sort(out.begin(), out.end(), [](const DesiredObject& a, const DesiredObject& b) {
    return Phase(a) < Phase(b);
  });
  return out;
}

Action Decide(const DesiredObject& desired, const json* existing, ConflictPolicy policy) {
  if (existing == nullptr)
    return desired.status_only ? Action::kNone : Action::kCreate;
  if (SameContent(desired, *existing))
    return Action::kNone;
  if (desired.status_only && StatusEmpty(*existing))
    return Action::kUpdate;
  return policy == ConflictPolicy::kOverwrite ? Action::kUpdate : Action::kConflict;
}

std::string RedactSecretValues(std::string message, const json& secret) {
  const json data = secret.value("data", json::object());
  if (!data.is_object())
    return message;
  for (const auto& [key, value] : data.items()) {
    if (!value.is_string())
      continue;
    const std::string encoded = value.get<std::string>();
    if (auto decoded = Base64Decode(encoded))
      Replace(message, *decoded);
    Replace(message, encoded);
  }
  return message;
}

size_t ImportReport::Count(Outcome outcome) const {
  return static_cast<size_t>(std::count_if(
      objects.begin(), objects.end(), [&](const ObjectReport& r) { return r.outcome == outcome; }));
}

json ImportReport::ToJson() const {
  json out = {
      {"objects", json::array()}, {"bytesCopied", bytes_copied}, {"counts", json::object()}};
  for (const auto& object : objects) {
    json item = {{"kind", object.kind},
                 {"name", object.name},
                 {"outcome", OutcomeName(object.outcome)},
                 {"bytes", object.bytes}};
    if (!object.detail.empty())
      item["detail"] = object.detail;
    out["objects"].push_back(std::move(item));
  }
  for (Outcome outcome : {Outcome::kCreated, Outcome::kUpdated, Outcome::kUnchanged,
                          Outcome::kConflict, Outcome::kSkipped, Outcome::kFailed}) {
    out["counts"][OutcomeName(outcome)] = Count(outcome);
  }
  return out;
}

Result<json> WaitForShootState(kube::Client& garden, const ImportOptions& options) {
  const std::string context =
      "shootstate " + options.shoot.garden_namespace + "/" + options.shoot.name;
  const auto deadline = std::chrono::steady_clock::now() + options.wait_timeout;
  const kube::ResourceRef configmaps{"", "v1", "configmaps", options.shoot.garden_namespace};
  while (true) {
    // The last reason we are still waiting; returned when the deadline passes.
    Error waiting(ErrorCode::kNotFound, "not found");
    auto state = garden.Get(ShootStateResource(options.shoot.garden_namespace), options.shoot.name);
    if (state.ok()) {
      auto names = ManifestPartNames(*state);
      if (!names.ok())
        return names.error().Wrap(context);
      std::vector<json> parts;
      for (const auto& name : *names) {
        auto part = garden.Get(configmaps, name);
        if (part.ok())
          parts.push_back(std::move(*part));
        else if (part.error().code() != ErrorCode::kNotFound)
          return part.error().Wrap(context);
      }
      auto unpacked = Unpack(*state, parts);
      if (unpacked.ok())
        return unpacked;
      // Missing parts and parts of another export mean an exporter is mid-write: wait.
      if (unpacked.error().code() != ErrorCode::kNotFound &&
          unpacked.error().code() != ErrorCode::kConflict) {
        return unpacked.error().Wrap(context);
      }
      waiting = unpacked.error();
    } else if (state.error().code() != ErrorCode::kNotFound && !state.error().IsRetryable()) {
      return state.error().Wrap(context);
    } else {
      waiting = state.error();
    }
    if (std::chrono::steady_clock::now() + options.poll_interval > deadline) {
      return Error(ErrorCode::kTimeout, context + ": not ready after " +
                                            std::to_string(options.wait_timeout.count()) +
                                            "ms: " + waiting.message());
    }
    std::this_thread::sleep_for(options.poll_interval);
  }
}

Result<ImportReport> ImportShootState(kube::Client& garden, kube::Client& seed,
                                      const ImportOptions& options) {
  auto state = WaitForShootState(garden, options);
  if (!state.ok())
    return state.error();
  const std::string context = "import shootstate " + options.shoot.garden_namespace + "/" +
                              options.shoot.name + " into namespace " + options.target_namespace;
  auto desired = DesiredObjects(*state, options.target_namespace);
  if (!desired.ok())
    return desired.error().Wrap(context);

  ImportReport report;
  const json gardener = (*state)["spec"].value("gardener", json::array());
  for (const auto& entry : gardener) {
    if (entry.value("type", "") != "secret") {
      report.objects.push_back({entry.value("type", ""), entry.value("name", ""), Outcome::kSkipped,
                                "restored by gardenlet", 0});
    }
  }
  LiveObjects live_objects;
  for (const auto& want : *desired) {
    const std::string kind = want.object.value("kind", "");
    ObjectReport item{kind, NameOf(want.object), Outcome::kUnchanged, "", 0};
    auto fail = [&](const Error& error) {
      item.outcome = Outcome::kFailed;
      item.detail = RedactSecretValues(error.message(), want.object);
    };
    auto existing = live_objects.Get(seed, want.ref, item.name);
    if (!existing.ok() && existing.error().code() != ErrorCode::kNotFound) {
      fail(existing.error());
    } else {
      const json* live = existing.ok() ? &*existing : nullptr;
      switch (Decide(want, live, options.policy)) {
        case Action::kNone:
          if (live == nullptr) {
            item.outcome = Outcome::kSkipped;
            item.detail = "not on the target yet: gardenlet creates it, then run import again";
          }
          break;
        case Action::kConflict:
          item.outcome = Outcome::kConflict;
          item.detail = "exists with different content; kept (policy keep)";
          break;
        case Action::kCreate: {
          auto created = seed.Create(want.ref, want.object);
          if (!created.ok()) {
            fail(created.error());
          } else {
            item.outcome = Outcome::kCreated;
            item.bytes = want.object.dump().size();
          }
          break;
        }
        case Action::kUpdate: {
          Result<json> written = Error(ErrorCode::kInternal, "not written");
          if (want.status_only) {
            written = seed.Patch(want.ref, item.name, kube::PatchType::kMerge,
                                 {{"status", want.object["status"]}}, "status");
          } else {
            json replacement = want.object;
            replacement["metadata"]["resourceVersion"] = (*live)["metadata"]["resourceVersion"];
            written = seed.Update(want.ref, replacement);
          }
          if (!written.ok()) {
            fail(written.error());
          } else {
            item.outcome = Outcome::kUpdated;
            item.bytes = want.object.dump().size();
          }
          break;
        }
      }
    }
    if (kind == "Namespace" && item.outcome == Outcome::kFailed)
      return Error(ErrorCode::kUnavailable, item.detail).Wrap(context);
    report.bytes_copied += item.bytes;
    if (options.logger && item.outcome != Outcome::kUnchanged) {
      options.logger->Info("shootstate object", {{"kind", item.kind},
                                                 {"name", item.name},
                                                 {"outcome", OutcomeName(item.outcome)},
                                                 {"detail", item.detail}});
    }
    report.objects.push_back(std::move(item));
  }
  if (options.metrics != nullptr)
    Record(*options.metrics, report);
  if (options.logger) {
    options.logger->Info("shootstate imported",
                         {{"namespace", options.target_namespace},
                          {"created", std::to_string(report.Count(Outcome::kCreated))},
                          {"updated", std::to_string(report.Count(Outcome::kUpdated))},
                          {"unchanged", std::to_string(report.Count(Outcome::kUnchanged))},
                          {"conflict", std::to_string(report.Count(Outcome::kConflict))},
                          {"failed", std::to_string(report.Count(Outcome::kFailed))},
                          {"bytesCopied", std::to_string(report.bytes_copied)}});
  }
  return report;
}

}  // namespace seedhop::migrator::shootstate
