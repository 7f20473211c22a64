#include "test/emulator/admission.h"

#include <algorithm>

#include "common/encoding/base64.h"
#include "test/emulator/kube_status.h"
#include "test/emulator/object_store.h"
#include "test/emulator/selectors.h"

namespace seedhop::emulator {

using nlohmann::json;

namespace {

bool ListAllows(const json& rule, const char* field, const std::string& value) {
  auto it = rule.find(field);
  if (it == rule.end() || !it->is_array())
    return false;
  for (const auto& entry : *it) {
    if (entry == "*" || entry == value)
      return true;
  }
  return false;
}

// predicates/rules/rules.go: "pods" matches only the main resource, "pods/*" every subresource,
// "*/scale" the scale subresource of everything, "*" every main resource.
bool ResourceAllowed(const json& rule, const std::string& resource, const std::string& sub) {
  auto it = rule.find("resources");
  if (it == rule.end() || !it->is_array())
    return false;
  for (const auto& entry : *it) {
    if (!entry.is_string())
      continue;
    const std::string& text = entry.get_ref<const std::string&>();
    size_t slash = text.find('/');
    std::string res = text.substr(0, slash);
    std::string entry_sub = slash == std::string::npos ? "" : text.substr(slash + 1);
    if ((res == "*" || res == resource) && (entry_sub == "*" || entry_sub == sub))
      return true;
  }
  return false;
}

bool RuleMatches(const json& rule, const AdmissionAttributes& a) {
  if (!ListAllows(rule, "operations", a.operation))
    return false;
  if (!ListAllows(rule, "apiGroups", a.resource.group))
    return false;
  if (!ListAllows(rule, "apiVersions", a.resource.version))
    return false;
  if (!ResourceAllowed(rule, a.resource.resource, a.subresource))
    return false;
  std::string scope = rule.value("scope", "*");
  if (scope == "Cluster")
    return !a.namespaced;
  if (scope == "Namespaced")
    return a.namespaced;
  return true;
}

json LabelsOf(const json& object) {
  if (!object.is_object())
    return nullptr;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object())
    return nullptr;
  auto labels = meta->find("labels");
  return labels == meta->end() ? json(nullptr) : *labels;
}

struct Webhook {
  std::string configuration;
  json spec;
};

// A failure to call a webhook or an invalid answer (ErrCallingWebhook): subject to failurePolicy.
std::string CallingError(const std::string& name, const std::string& reason) {
  return "failed calling webhook " + json(name).dump() + ": " + reason;
}

// errors/statuserror.go ToStatusErr: the webhook's own Status, prefixed with who denied it.
http::Response Rejection(const std::string& name, json status) {
  if (!status.is_object())
    status = json::object();
  std::string denied_by = "admission webhook " + json(name).dump() + " denied the request";
  int code = status.value("code", 0);
  if (code < 400)
    code = 400;
  std::string message = status.value("message", "");
  std::string reason = status.value("reason", "");
  if (!message.empty()) {
    message = denied_by + ": " + message;
  } else if (!reason.empty()) {
    message = denied_by + ": " + reason;
  } else {
    message = denied_by + " without explanation";
  }
  nlohmann::ordered_json details = nullptr;
  if (status.contains("details") && status["details"].is_object()) {
    details = nlohmann::ordered_json::parse(status["details"].dump());
  }
  return StatusResponse(code, reason, message, details);
}

}  // namespace

Result<bool> WebhookMatches(const json& webhook, const AdmissionAttributes& a) {
  bool rule_matched = false;
  for (const auto& rule : webhook.value("rules", json::array())) {
    if (RuleMatches(rule, a)) {
      rule_matched = true;
      break;
    }
  }
  if (!rule_matched)
    return false;
  // namespace/matcher.go: cluster-scoped objects other than namespaces skip the namespace
  // selector; a Namespace is matched against its own labels.
  bool is_namespace = a.resource.group.empty() && a.resource.resource == "namespaces";
  if (a.namespaced || is_namespace) {
    auto selector = LabelSelector::FromJson(webhook.value("namespaceSelector", json(nullptr)));
    if (!selector.ok())
      return selector.error().Wrap("namespaceSelector");
    if (!selector->Matches(a.namespace_labels))
      return false;
  }
  auto selector = LabelSelector::FromJson(webhook.value("objectSelector", json(nullptr)));
  if (!selector.ok())
    return selector.error().Wrap("objectSelector");
  // object/matcher.go: match on the new or the old object, whichever exists.
  bool object_match = !a.object.is_null() && selector->Matches(LabelsOf(a.object));
  bool old_match = !a.old_object.is_null() && selector->Matches(LabelsOf(a.old_object));
  return object_match || old_match;
}

json BuildAdmissionReview(const AdmissionAttributes& a, const std::string& uid) {
  json kind = {{"group", a.kind.group}, {"version", a.kind.version}, {"kind", a.kind.kind}};
  json resource = {{"group", a.resource.group},
                   {"version", a.resource.version},
                   {"resource", a.resource.resource}};
  json request = {
      {"uid", uid},
      {"kind", kind},
      {"resource", resource},
      {"requestKind", kind},
      {"requestResource", resource},
      {"operation", a.operation},
      {"userInfo",
       {{"username", "system:admin"}, {"groups", {"system:masters", "system:authenticated"}}}},
      {"object", a.object},
      {"oldObject", a.old_object},
      {"dryRun", a.dry_run},
      {"options",
       {{"kind", a.operation == "CREATE"   ? "CreateOptions"
                 : a.operation == "DELETE" ? "DeleteOptions"
                                           : "UpdateOptions"},
        {"apiVersion", "meta.k8s.io/v1"}}}};
  if (!a.subresource.empty()) {
    request["subResource"] = a.subresource;
    request["requestSubResource"] = a.subresource;
  }
  if (!a.name.empty())
    request["name"] = a.name;
  if (!a.namespace_name.empty())
    request["namespace"] = a.namespace_name;
  return {{"kind", "AdmissionReview"}, {"apiVersion", "admission.k8s.io/v1"}, {"request", request}};
}

Result<WebhookVerdict> VerifyAdmissionResponse(const std::string& body, const std::string& uid) {
  json review = json::parse(body, nullptr, false);
  if (review.is_discarded() || !review.is_object()) {
    return Error(ErrorCode::kInvalid,
                 "failed to call webhook: the server responded with an undecodable body");
  }
  auto invalid = [](const std::string& why) {
    return Error(ErrorCode::kInvalid, "received invalid webhook response: " + why);
  };
  const json response = review.value("response", json(nullptr));
  if (!response.is_object())
    return invalid("webhook response was absent");
  std::string got_uid = response.value("uid", "");
  if (got_uid != uid) {
    return invalid("expected response.uid=" + json(uid).dump() + ", got " + json(got_uid).dump());
  }
  std::string api_version = review.value("apiVersion", "");
  std::string kind = review.value("kind", "");
  if (api_version != "admission.k8s.io/v1" || kind != "AdmissionReview") {
    return invalid("expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got " +
                   api_version + ", Kind=" + kind);
  }
  std::string patch = response.value("patch", "");
  std::string patch_type = response.contains("patchType") && response["patchType"].is_string()
                               ? response["patchType"].get<std::string>()
                               : "";
  if (!patch.empty() && patch_type.empty()) {
    return invalid("webhook returned response.patch but not response.patchType");
  }
  if (patch.empty() && !patch_type.empty()) {
    return invalid("webhook returned response.patchType but not response.patch");
  }
  WebhookVerdict verdict;
  verdict.allowed = response.value("allowed", false);
  verdict.status = response.value("status", json(nullptr));
  if (!verdict.allowed || patch.empty())
    return verdict;
  if (patch_type != "JSONPatch") {
    return Error(ErrorCode::kInvalid, "unsupported patch type " + json(patch_type).dump());
  }
  auto raw = encoding::Base64Decode(patch);
  json decoded = raw ? json::parse(*raw, nullptr, false) : json(json::value_t::discarded);
  if (decoded.is_discarded() || !decoded.is_array()) {
    return Error(ErrorCode::kInvalid,
                 "received undecodable patch in webhook response: not a JSON Patch array");
  }
  verdict.patch = std::move(decoded);
  return verdict;
}

WebhookTransport DefaultWebhookTransport() {
  struct Pool {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<http::Client>> clients;
  };
  auto pool = std::make_shared<Pool>();
  return [pool](const std::string& url, const std::string& ca_pem, const std::string& body,
                std::chrono::seconds timeout) -> Result<http::ClientResponse> {
    std::shared_ptr<http::Client> client;
    {
      std::lock_guard lock(pool->mutex);
      auto& slot = pool->clients[ca_pem];
      if (!slot) {
        http::ClientOptions options;
        options.ca_pem = ca_pem;
        slot = std::make_shared<http::Client>(options);
      }
      client = slot;
    }
    http::ClientRequest request;
    request.method = "POST";
    request.url = url;
    request.headers["content-type"] = "application/json";
    request.headers["accept"] = "application/json, */*";
    request.body = body;
    request.timeout = timeout;
    return client->Send(request);
  };
}

AdmissionOutcome RunMutatingAdmission(const std::vector<json>& configurations,
                                      AdmissionAttributes attributes,
                                      const WebhookTransport& transport) {
  std::vector<const json*> sorted;
  for (const auto& configuration : configurations)
    sorted.push_back(&configuration);
  // mutating_webhook_manager.go sorts configurations by name; webhooks keep their list order.
  std::stable_sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) {
    return (*a)["metadata"].value("name", "") < (*b)["metadata"].value("name", "");
  });
  std::vector<Webhook> webhooks;
  for (const json* configuration : sorted) {
    for (const auto& spec : configuration->value("webhooks", json::array())) {
      webhooks.push_back({(*configuration)["metadata"].value("name", ""), spec});
    }
  }

  AdmissionOutcome outcome;
  // Changes seen so far, and for each called webhook the count right after its call: a
  // reinvocationPolicy IfNeeded webhook runs again when someone changed the object after it.
  int changes = 0;
  std::vector<int> changes_after(webhooks.size(), -1);

  auto call = [&](size_t index) -> bool {
    const Webhook& hook = webhooks[index];
    std::string name = hook.spec.value("name", "");
    bool ignore = hook.spec.value("failurePolicy", "Fail") == "Ignore";
    auto fail = [&](const std::string& reason) {
      if (ignore)
        return true;
      outcome.allowed = false;
      outcome.rejection = InternalError(CallingError(name, reason));
      return false;
    };
    if (attributes.dry_run) {
      std::string side_effects = hook.spec.value("sideEffects", "");
      if (side_effects != "None" && side_effects != "NoneOnDryRun") {
        outcome.allowed = false;
        outcome.rejection =
            BadRequest("admission webhook " + json(name).dump() + " does not support dry run");
        return false;
      }
    }
    auto versions = hook.spec.value("admissionReviewVersions", json::array());
    if (std::find(versions.begin(), versions.end(), "v1") == versions.end()) {
      return fail("webhook does not accept known AdmissionReview versions");
    }
    const json config = hook.spec.value("clientConfig", json::object());
    std::string url = config.value("url", "");
    if (url.empty())
      return fail("only clientConfig.url is supported by the emulator");
    std::string ca_pem;
    if (config.contains("caBundle")) {
      auto decoded = encoding::Base64Decode(config.value("caBundle", ""));
      if (!decoded)
        return fail("clientConfig.caBundle is not valid base64");
      ca_pem = *decoded;
    }
    int timeout = hook.spec.value("timeoutSeconds", 10);
    std::string target = url + "?timeout=" + std::to_string(timeout) + "s";
    std::string uid = NewUid();
    std::string body = BuildAdmissionReview(attributes, uid).dump();
    auto response = transport(target, ca_pem, body, std::chrono::seconds(timeout));
    if (!response.ok()) {
      return fail("failed to call webhook: Post " + json(target).dump() + ": " +
                  response.error().message());
    }
    if (response->status < 200 || response->status > 299) {
      return fail("failed to call webhook: the server responded with the status code " +
                  std::to_string(response->status) + " but did not return more information");
    }
    auto verdict = VerifyAdmissionResponse(response->body, uid);
    if (!verdict.ok())
      return fail(verdict.error().message());
    if (!verdict->allowed) {
      outcome.allowed = false;
      outcome.rejection = Rejection(name, verdict->status);
      return false;
    }
    if (!verdict->patch.is_null() && attributes.object.is_null()) {
      // dispatcher.go: a patch for an operation without an object (DELETE) is an internal
      // error, whatever the failure policy.
      outcome.allowed = false;
      outcome.rejection = InternalError("admission webhook " + json(name).dump() +
                                        " attempted to modify the object, which is not "
                                        "supported for this operation");
      return false;
    }
    if (!verdict->patch.is_null()) {
      json patched;
      try {
        patched = attributes.object.patch(verdict->patch);
      } catch (const json::exception& e) {
        // dispatcher.go: a patch that does not apply is an internal error, whatever the policy.
        outcome.allowed = false;
        outcome.rejection = InternalError(e.what());
        return false;
      }
      if (patched != attributes.object) {
        attributes.object = std::move(patched);
        ++changes;
      }
    }
    changes_after[index] = changes;
    return true;
  };

  for (size_t i = 0; i < webhooks.size(); ++i) {
    auto matches = WebhookMatches(webhooks[i].spec, attributes);
    if (!matches.ok()) {
      if (webhooks[i].spec.value("failurePolicy", "Fail") == "Ignore")
        continue;
      outcome.allowed = false;
      outcome.rejection = InternalError(
          CallingError(webhooks[i].spec.value("name", ""), matches.error().message()));
      return outcome;
    }
    if (!*matches)
      continue;
    if (!call(i))
      return outcome;
  }
  for (size_t i = 0; i < webhooks.size(); ++i) {
    if (changes_after[i] < 0 || changes_after[i] == changes)
      continue;
    if (webhooks[i].spec.value("reinvocationPolicy", "Never") != "IfNeeded")
      continue;
    if (!call(i))
      return outcome;
  }
  outcome.object = std::move(attributes.object);
  return outcome;
}

}  // namespace seedhop::emulator
