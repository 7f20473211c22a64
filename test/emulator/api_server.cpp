#include "test/emulator/api_server.h"

#include <algorithm>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "test/emulator/kube_status.h"

namespace seedhop::emulator {

using nlohmann::json;

namespace {

const char kWebhookConfigurations[] = "admissionregistration.k8s.io/mutatingwebhookconfigurations";
const char kNamespaces[] = "/namespaces";

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos)
      slash = path.size();
    if (slash > start)
      parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

http::Response JsonOk(int code, std::string body) {
  return http::Response::Json(code, std::move(body));
}

bool WantsTable(const http::Request& request) {
  return request.Header("accept").find("as=Table") != std::string::npos;
}

json& Meta(json& object) {
  return object["metadata"];
}

std::string MetaValue(const json& object, const char* field) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object())
    return {};
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
}

// SimpleNameGenerator (k8s.io/apiserver/pkg/storage/names/generate.go): base + 5 random
// characters from an alphabet without vowels, the base cut to 58 characters.
std::string GenerateName(std::string base) {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  thread_local std::mt19937 random{std::random_device{}()};
  if (base.size() > 58)
    base.resize(58);
  for (int i = 0; i < 5; ++i)
    base += kAlphabet[random() % (sizeof kAlphabet - 1)];
  return base;
}

json ResourceEntry(const ResourceInfo& info) {
  json entry = {
      {"name", info.resource},
      {"singularName", info.singular},
      {"namespaced", info.namespaced},
      {"kind", info.kind},
      {"verbs",
       {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}};
  if (!info.short_names.empty())
    entry["shortNames"] = info.short_names;
  return entry;
}

json ResourceList(const std::string& group_version, const std::vector<ResourceInfo>& infos) {
  json resources = json::array();
  for (const auto& info : infos) {
    resources.push_back(ResourceEntry(info));
    if (info.has_status) {
      resources.push_back({{"name", info.resource + "/status"},
                           {"singularName", ""},
                           {"namespaced", info.namespaced},
                           {"kind", info.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (info.has_scale) {
      resources.push_back({{"name", info.resource + "/scale"},
                           {"singularName", ""},
                           {"namespaced", info.namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group_version},
          {"resources", resources}};
}

// A minimal OpenAPI v3 document for one group/version: a PATCH operation per kind that declares
// the fieldValidation query parameter. kubectl (k8s.io/cli-runtime/pkg/resource/
// query_param_verifier_v3.go) then leaves validation to the server instead of downloading the
// OpenAPI v2 schema, which the emulator does not serve.
json OpenApiV3(const std::vector<ResourceInfo>& infos) {
  json paths = json::object();
  for (const auto& info : infos) {
    std::string prefix = info.group.empty() ? "/api/v1" : "/apis/" + info.GroupVersion();
    std::string path =
        prefix + (info.namespaced ? "/namespaces/{namespace}/" : "/") + info.resource + "/{name}";
    paths[path]["patch"] = {
        {"x-kubernetes-action", "patch"},
        {"x-kubernetes-group-version-kind",
         {{"group", info.group}, {"version", info.version}, {"kind", info.kind}}},
        {"parameters",
         {{{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}}};
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.31.0"}}},
          {"paths", paths},
          {"components", {{"schemas", json::object()}}}};
}

json GroupEntry(const std::string& name, const std::vector<std::string>& versions) {
  json list = json::array();
  for (const auto& version : versions) {
    list.push_back({{"groupVersion", name + "/" + version}, {"version", version}});
  }
  return {{"name", name}, {"versions", list}, {"preferredVersion", list.front()}};
}

// autoscaling/v1 Scale of a StatefulSet (k8s pkg/registry/apps/statefulset/storage/storage.go).
json ScaleOf(const json& object) {
  const json& meta = object["metadata"];
  json scale_meta = json::object();
  for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (meta.contains(field))
      scale_meta[field] = meta[field];
  }
  std::string selector;
  const json spec = object.value("spec", json::object());
  if (spec.contains("selector") && spec["selector"].contains("matchLabels")) {
    for (const auto& [key, value] : spec["selector"]["matchLabels"].items()) {
      if (!selector.empty())
        selector += ",";
      selector += key + "=" + value.get<std::string>();
    }
  }
  const json status = object.value("status", json::object());
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", scale_meta},
          {"spec", {{"replicas", spec.value("replicas", 1)}}},
          {"status", {{"replicas", status.value("replicas", 0)}, {"selector", selector}}}};
}

json TableColumns() {
  // The default table convertor's columns (k8s.io/apiserver/pkg/registry/rest/table.go).
  return json::array({{{"name", "Name"},
                       {"type", "string"},
                       {"format", "name"},
                       {"description", "Name must be unique within a namespace."},
                       {"priority", 0}},
                      {{"name", "Age"},
                       {"type", "string"},
                       {"format", ""},
                       {"description",
                        "CreationTimestamp is a timestamp representing the server time when "
                        "this object was created."},
                       {"priority", 0}}});
}

json TableRow(const json& object, const std::string& include, std::time_t now) {
  json row = {{"cells",
               {MetaValue(object, "name"), AgeSince(MetaValue(object, "creationTimestamp"), now)}}};
  if (include == "Object") {
    row["object"] = object;
  } else if (include != "None") {
    row["object"] = {{"kind", "PartialObjectMetadata"},
                     {"apiVersion", "meta.k8s.io/v1"},
                     {"metadata", object.value("metadata", json::object())}};
  }
  return row;
}

json Table(const std::vector<ObjectPtr>& items, const std::string& include,
           const std::string& resource_version, const std::string& continue_token) {
  std::time_t now = std::time(nullptr);
  json rows = json::array();
  for (const auto& item : items)
    rows.push_back(TableRow(item->object, include, now));
  json metadata = json::object();
  if (!resource_version.empty())
    metadata["resourceVersion"] = resource_version;
  if (!continue_token.empty())
    metadata["continue"] = continue_token;
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", metadata},
          {"columnDefinitions", TableColumns()},
          {"rows", rows}};
}

// The query a list, watch or deletecollection request asks for: its namespace and selectors.
Result<ListQuery> SelectorQuery(const http::Request& request, const std::string& namespace_name) {
  ListQuery query;
  query.namespace_name = namespace_name;
  auto labels = LabelSelector::Parse(request.QueryParam("labelSelector"));
  if (!labels.ok())
    return labels.error();
  auto fields = FieldSelector::Parse(request.QueryParam("fieldSelector"));
  if (!fields.ok())
    return fields.error();
  query.labels = std::move(labels).value();
  query.fields = std::move(fields).value();
  return query;
}

}  // namespace

std::string AgeSince(const std::string& rfc3339, std::time_t now) {
  std::tm tm{};
  if (strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr)
    return "<unknown>";
  long seconds = static_cast<long>(now - timegm(&tm));
  if (seconds < -1)
    return "<invalid>";
  if (seconds < 0)
    return "0s";
  if (seconds < 60)
    return std::to_string(seconds) + "s";
  if (seconds < 3600)
    return std::to_string(seconds / 60) + "m";
  long hours = seconds / 3600;
  if (hours < 24)
    return std::to_string(hours) + "h";
  if (hours < 24 * 365)
    return std::to_string(hours / 24) + "d";
  return std::to_string(hours / 24 / 365) + "y";
}

struct ApiServer::Call {
  const http::Request* request;
  ResourceInfo info;
  std::string namespace_name;
  std::string name;
  std::string subresource;
  bool dry_run = false;

  std::string key() const { return info.StorageKey(); }
  StatusTarget target(const std::string& object_name) const {
    return {info.group, info.resource, object_name};
  }
  StatusTarget target() const { return target(name); }
};

ApiServer::ApiServer(ApiServerOptions options)
    : options_(std::move(options)),
      transport_(options_.webhook_transport ? options_.webhook_transport
                                            : DefaultWebhookTransport()),
      store_(options_.store),
      registry_(ResourceRegistry::WithBuiltins()) {}

void ApiServer::Close() {
  store_.Close();
}

http::Response ApiServer::Handle(const http::Request& request) {
  if (request.path == "/healthz" || request.path == "/livez" || request.path == "/readyz") {
    return http::Response::Text(200, "ok");
  }
  if (request.Header("authorization") != "Bearer " + options_.token)
    return Unauthorized();
  if (request.body.size() > options_.max_request_bytes) {
    return RequestTooLarge(options_.max_request_bytes);
  }
  try {
    if (options_.before_request)
      options_.before_request(request);
    return Route(request);
  } catch (const std::exception& e) {
    // A handler bug must not take the emulator down; answer like kube-apiserver's panic guard.
    return InternalError(std::string("emulator: ") + e.what());
  }
}

http::Response ApiServer::Route(const http::Request& request) {
  bool handled = false;
  http::Response discovery = Discovery(request, &handled);
  if (handled)
    return discovery;
  std::vector<std::string> parts = SplitPath(request.path);
  if (parts.size() > 2 && parts[0] == "api") {
    std::string rest = request.path.substr(request.path.find(parts[1]) + parts[1].size());
    return ResourceRequest(request, "", parts[1], rest);
  }
  if (parts.size() > 3 && parts[0] == "apis") {
    std::string prefix = "/apis/" + parts[1] + "/" + parts[2];
    return ResourceRequest(request, parts[1], parts[2], request.path.substr(prefix.size()));
  }
  return UnknownResource();
}

http::Response ApiServer::Discovery(const http::Request& request, bool* handled) {
  *handled = true;
  std::vector<std::string> parts = SplitPath(request.path);
  if (request.method != "GET") {
    *handled = false;
    return UnknownResource();
  }
  std::shared_lock lock(registry_mutex_);
  if (parts.size() == 1 && parts[0] == "version") {
    return JsonOk(200, json{{"major", "1"},
                            {"minor", "31"},
                            {"gitVersion", "v1.31.0-seedhop-emulator"},
                            {"gitCommit", "0000000000000000000000000000000000000000"},
                            {"gitTreeState", "clean"},
                            {"buildDate", "2026-01-01T00:00:00Z"},
                            {"goVersion", "go1.22.0"},
                            {"compiler", "gc"},
                            {"platform", "linux/amd64"}}
                           .dump());
  }
  if (parts.size() >= 2 && parts[0] == "openapi" && parts[1] == "v3") {
    if (parts.size() == 2) {
      json paths = json::object();
      auto add = [&](const std::string& key, const std::string& group, const std::string& version) {
        std::string doc = OpenApiV3(registry_.InGroupVersion(group, version)).dump();
        paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" +
                                                std::to_string(std::hash<std::string>()(doc))}};
      };
      add("api/v1", "", "v1");
      for (const auto& [group, versions] : registry_.Groups()) {
        for (const auto& version : versions)
          add("apis/" + group + "/" + version, group, version);
      }
      return JsonOk(200, json{{"paths", paths}}.dump());
    }
    std::string group = parts.size() == 4 && parts[2] == "api" ? ""
                        : parts.size() == 5                    ? parts[3]
                                                               : "-";
    std::string version = parts.back();
    auto infos = registry_.InGroupVersion(group, version);
    if (infos.empty())
      return UnknownResource();
    return JsonOk(200, OpenApiV3(infos).dump());
  }
  if (parts.size() == 1 && parts[0] == "api") {
    return JsonOk(200, json{{"kind", "APIVersions"}, {"versions", {"v1"}}}.dump());
  }
  if (parts.size() == 2 && parts[0] == "api") {
    auto infos = registry_.InGroupVersion("", parts[1]);
    if (infos.empty())
      return UnknownResource();
    return JsonOk(200, ResourceList(parts[1], infos).dump());
  }
  if (parts.size() == 1 && parts[0] == "apis") {
    json groups = json::array();
    for (const auto& [name, versions] : registry_.Groups()) {
      groups.push_back(GroupEntry(name, versions));
    }
    return JsonOk(200,
                  json{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}}.dump());
  }
  if (parts.size() == 2 && parts[0] == "apis") {
    auto groups = registry_.Groups();
    auto it = groups.find(parts[1]);
    if (it == groups.end())
      return UnknownResource();
    json group = GroupEntry(it->first, it->second);
    group["kind"] = "APIGroup";
    group["apiVersion"] = "v1";
    return JsonOk(200, group.dump());
  }
  if (parts.size() == 3 && parts[0] == "apis") {
    auto infos = registry_.InGroupVersion(parts[1], parts[2]);
    if (infos.empty())
      return UnknownResource();
    return JsonOk(200, ResourceList(parts[1] + "/" + parts[2], infos).dump());
  }
  *handled = false;
  return UnknownResource();
}

http::Response ApiServer::ResourceRequest(const http::Request& request, const std::string& group,
                                          const std::string& version, const std::string& rest) {
  std::vector<std::string> parts = SplitPath(rest);
  Call call;
  call.request = &request;
  std::optional<ResourceInfo> info;
  {
    std::shared_lock lock(registry_mutex_);
    if (parts.size() >= 3 && parts[0] == "namespaces") {
      auto nested = registry_.Find(group, version, parts[2]);
      if (nested && nested->namespaced) {
        call.namespace_name = parts[1];
        parts.erase(parts.begin(), parts.begin() + 2);
        info = nested;
      }
    }
    if (!info && !parts.empty())
      info = registry_.Find(group, version, parts[0]);
  }
  if (!info || parts.size() > 3)
    return UnknownResource();
  call.info = *info;
  if (parts.size() > 1)
    call.name = parts[1];
  if (parts.size() > 2)
    call.subresource = parts[2];
  if (call.info.namespaced && call.namespace_name.empty() && !call.name.empty()) {
    return UnknownResource();
  }
  if (!call.subresource.empty() && !(call.subresource == "status" && call.info.has_status) &&
      !(call.subresource == "scale" && call.info.has_scale)) {
    return UnknownResource();
  }
  call.dry_run = request.QueryParam("dryRun") == "All";
  const std::string& method = request.method;
  if (call.name.empty()) {
    if (method == "GET") {
      std::string watch = request.QueryParam("watch");
      return watch == "true" || watch == "1" ? Watch(call) : List(call);
    }
    if (method == "POST") {
      json object = json::parse(request.body, nullptr, false);
      if (object.is_discarded() || !object.is_object()) {
        return BadRequest("the body of the request is not a JSON object");
      }
      if (!MetaValue(object, "resourceVersion").empty()) {
        // k8s.io/apiserver/pkg/storage/etcd3/store.go Create: a plain error, hence a 500.
        return StatusResponse(500, "",
                              "resourceVersion should not be set on objects to be created");
      }
      return Create(call, std::move(object));
    }
    if (method == "DELETE")
      return DeleteCollection(call);
    return MethodNotAllowed();
  }
  if (method == "GET")
    return Get(call);
  if (method == "PUT") {
    json object = json::parse(request.body, nullptr, false);
    if (object.is_discarded() || !object.is_object()) {
      return BadRequest("the body of the request is not a JSON object");
    }
    return Update(call, std::move(object), true);
  }
  if (method == "PATCH")
    return Patch(call);
  if (method == "DELETE" && call.subresource.empty())
    return Delete(call);
  return MethodNotAllowed();
}

std::string ApiServer::Render(const Call& call, const ObjectPtr& object) const {
  if (WantsTable(*call.request)) {
    return Table({object}, call.request->QueryParam("includeObject"),
                 std::to_string(object->resource_version), "")
        .dump();
  }
  return object->json;
}

http::Response ApiServer::Get(const Call& call) {
  auto object = store_.Get(call.key(), call.namespace_name, call.name);
  if (!object.ok())
    return NotFound(call.target());
  if (call.subresource == "scale")
    return JsonOk(200, ScaleOf((*object)->object).dump());
  return JsonOk(200, Render(call, *object));
}

http::Response ApiServer::List(const Call& call) {
  auto selected = SelectorQuery(*call.request, call.namespace_name);
  if (!selected.ok())
    return BadRequest(selected.error().message());
  ListQuery query = std::move(selected).value();
  std::string limit = call.request->QueryParam("limit");
  if (!limit.empty()) {
    try {
      long long parsed = std::stoll(limit);
      query.limit = parsed > 0 ? static_cast<size_t>(parsed) : 0;
    } catch (const std::exception&) {
      return BadRequest("invalid limit: " + limit);
    }
  }
  query.continue_token = call.request->QueryParam("continue");
  auto page = store_.List(call.key(), query);
  if (!page.ok())
    return BadRequest(page.error().message());
  std::string rv = std::to_string(page->resource_version);
  if (WantsTable(*call.request)) {
    return JsonOk(
        200, Table(page->items, call.request->QueryParam("includeObject"), rv, page->continue_token)
                 .dump());
  }
  size_t size = 256;
  for (const auto& item : page->items)
    size += item->json.size() + 1;
  std::string body;
  body.reserve(size);
  body += R"({"kind":")" + call.info.list_kind + R"(","apiVersion":")" + call.info.GroupVersion() +
          R"(","metadata":{"resourceVersion":")" + rv + "\"";
  if (!page->continue_token.empty())
    body += R"(,"continue":")" + page->continue_token + "\"";
  body += R"(},"items":[)";
  for (size_t i = 0; i < page->items.size(); ++i) {
    if (i > 0)
      body += ',';
    body += page->items[i]->json;
  }
  body += "]}";
  return JsonOk(200, std::move(body));
}

http::Response ApiServer::Watch(const Call& call) {
  auto selected = SelectorQuery(*call.request, call.namespace_name);
  if (!selected.ok())
    return BadRequest(selected.error().message());
  LabelSelector labels = std::move(selected->labels);
  FieldSelector fields = std::move(selected->fields);
  std::string rv_text = call.request->QueryParam("resourceVersion");
  uint64_t start_rv = 0;
  if (!rv_text.empty()) {
    try {
      start_rv = std::stoull(rv_text);
    } catch (const std::exception&) {
      return BadRequest("invalid resource version: " + rv_text);
    }
  }
  long timeout_seconds = 0;
  std::string timeout_text = call.request->QueryParam("timeoutSeconds");
  if (!timeout_text.empty())
    timeout_seconds = std::atol(timeout_text.c_str());
  bool bookmarks = call.request->QueryParam("allowWatchBookmarks") == "true";
  bool table = WantsTable(*call.request);
  std::string include = call.request->QueryParam("includeObject");

  http::Response response;
  response.status = 200;
  response.headers["content-type"] = "application/json";
  response.stream = [this, key = call.key(), info = call.info, ns = call.namespace_name,
                     labels = std::move(labels), fields = std::move(fields), start_rv,
                     replay = rv_text.empty() || rv_text == "0", timeout_seconds, bookmarks, table,
                     include](http::StreamWriter& writer) {
    auto render = [&](const char* type, const ObjectPtr& object) {
      std::string body = table ? Table({object}, include, "", "").dump() : object->json;
      return std::string(R"({"type":")") + type + R"(","object":)" + body + "}\n";
    };
    auto matches = [&](const ObjectPtr& object) {
      if (!object)
        return false;
      if (!ns.empty() && object->namespace_name != ns)
        return false;
      if (!fields.Matches(object->namespace_name, object->name))
        return false;
      const json& meta = object->object["metadata"];
      return labels.Matches(meta.contains("labels") ? meta["labels"] : json(nullptr));
    };
    uint64_t rv = start_rv;
    if (replay) {
      ListQuery query;
      query.namespace_name = ns;
      query.labels = labels;
      query.fields = fields;
      auto page = store_.List(key, query);
      if (!page.ok())
        return;
      for (const auto& object : page->items) {
        if (!writer.Write(render("ADDED", object)))
          return;
      }
      rv = page->resource_version;
    }
    auto now = std::chrono::steady_clock::now;
    auto deadline = timeout_seconds > 0 ? now() + std::chrono::seconds(timeout_seconds)
                                        : std::chrono::steady_clock::time_point::max();
    auto next_bookmark = now() + options_.bookmark_interval;
    while (!store_.closed() && now() < deadline) {
      auto events = store_.EventsSince(key, rv);
      if (!events.ok()) {
        writer.Write(std::string(R"({"type":"ERROR","object":)") +
                     ExpiredStatus(events.error().message()).dump() + "}\n");
        return;
      }
      for (const StoreEvent& event : events->first) {
        bool now_matches = event.type != EventType::kDeleted && matches(event.object);
        bool before_matches = matches(event.previous);
        if (event.type == EventType::kDeleted)
          before_matches = matches(event.object);
        const char* type = nullptr;
        if (event.type == EventType::kDeleted) {
          type = before_matches ? "DELETED" : nullptr;
        } else if (now_matches && before_matches) {
          type = "MODIFIED";
        } else if (now_matches) {
          type = "ADDED";
        } else if (before_matches) {
          type = "DELETED";  // left the selection (k8s.io/apiserver/pkg/storage/cacher)
        }
        if (type != nullptr && !writer.Write(render(type, event.object)))
          return;
      }
      rv = events->second;
      if (bookmarks && now() >= next_bookmark) {
        json bookmark = {{"kind", info.kind},
                         {"apiVersion", info.GroupVersion()},
                         {"metadata", {{"resourceVersion", std::to_string(rv)}}}};
        if (!writer.Write(R"({"type":"BOOKMARK","object":)" + bookmark.dump() + "}\n"))
          return;
        next_bookmark = now() + options_.bookmark_interval;
      }
      if (!writer.WaitAlive(0))
        return;
      store_.WaitForChange(rv, std::chrono::milliseconds(200));
    }
  };
  return response;
}

json ApiServer::NamespaceLabels(const Call& call, const json& object) const {
  if (call.info.group.empty() && call.info.resource == "namespaces") {
    return object["metadata"].value("labels", json(nullptr));
  }
  if (call.namespace_name.empty())
    return nullptr;
  auto ns = store_.Get(kNamespaces, "", call.namespace_name);
  if (!ns.ok())
    return nullptr;
  return (*ns)->object["metadata"].value("labels", json(nullptr));
}

namespace {

http::Response StoreError(const StatusTarget& target, const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound:
      return NotFound(target);
    case ErrorCode::kAlreadyExists:
      return AlreadyExists(target);
    case ErrorCode::kConflict:
      return Conflict(target, error.message());
    default:
      // Errors straight from etcd reach the client as reason-less 500s (kubernetes#112152).
      return StatusResponse(500, "", error.message());
  }
}

std::vector<json> Objects(const ListPage& page) {
  std::vector<json> objects;
  for (const auto& item : page.items)
    objects.push_back(item->object);
  return objects;
}

}  // namespace

http::Response ApiServer::Create(const Call& call, json object) {
  if (!call.subresource.empty())
    return MethodNotAllowed();
  std::string api_version = object.value("apiVersion", call.info.GroupVersion());
  std::string kind = object.value("kind", call.info.kind);
  std::string group = api_version.find('/') == std::string::npos
                          ? ""
                          : api_version.substr(0, api_version.find('/'));
  if (kind != call.info.kind || group != call.info.group) {
    return BadRequest("the API version in the data (" + api_version + ") and kind (" + kind +
                      ") do not match the expected " + call.info.GroupVersion() +
                      ", Kind=" + call.info.kind);
  }
  object["apiVersion"] = api_version;
  object["kind"] = kind;
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    object["metadata"] = json::object();
  }
  json& meta = Meta(object);
  if (call.info.namespaced) {
    std::string ns = meta.value("namespace", "");
    if (!ns.empty() && ns != call.namespace_name) {
      return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request");
    }
    meta["namespace"] = call.namespace_name;
  } else {
    meta.erase("namespace");
  }
  std::string name = meta.value("name", "");
  if (name.empty() && meta.value("generateName", "").empty()) {
    return Invalid(call.target(""), call.info.kind, "metadata.name", "FieldValueRequired",
                   "Required value: name or generateName is required");
  }
  if (call.info.namespaced && !store_.Get(kNamespaces, "", call.namespace_name).ok()) {
    // NamespaceLifecycle admission, before any webhook.
    return NotFound({"", "namespaces", call.namespace_name});
  }
  if (call.info.has_status && call.info.resource != "namespaces")
    object.erase("status");
  return Write(call, std::move(object), nullptr);
}

http::Response ApiServer::Update(const Call& call, json object, bool allow_create) {
  if (call.subresource == "scale") {
    auto old = store_.Get(call.key(), call.namespace_name, call.name);
    if (!old.ok())
      return NotFound(call.target());
    return WriteScale(call, std::move(object), *old);
  }
  json& meta = Meta(object);
  if (!meta.is_object())
    return BadRequest("metadata: must be an object");
  std::string name = meta.value("name", "");
  if (name != call.name) {
    return BadRequest("the name of the object (" + name + ") does not match the name on the URL (" +
                      call.name + ")");
  }
  if (call.info.namespaced) {
    std::string ns = meta.value("namespace", "");
    if (!ns.empty() && ns != call.namespace_name) {
      return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request");
    }
    meta["namespace"] = call.namespace_name;
  }
  object["apiVersion"] = object.value("apiVersion", call.info.GroupVersion());
  object["kind"] = object.value("kind", call.info.kind);
  auto old = store_.Get(call.key(), call.namespace_name, call.name);
  if (!old.ok()) {
    if (allow_create && call.info.allow_create_on_update && call.subresource.empty()) {
      meta.erase("resourceVersion");
      return Create(call, std::move(object));
    }
    return NotFound(call.target());
  }
  const json& previous = (*old)->object;
  if (call.subresource == "status") {
    json updated = previous;
    updated["metadata"]["resourceVersion"] = meta.value("resourceVersion", "");
    if (object.contains("status")) {
      updated["status"] = object["status"];
    } else {
      updated.erase("status");
    }
    return Write(call, std::move(updated), *old);
  }
  if (call.info.has_status && call.info.resource != "namespaces") {
    if (previous.contains("status")) {
      object["status"] = previous["status"];
    } else {
      object.erase("status");
    }
  }
  return Write(call, std::move(object), *old);
}

http::Response ApiServer::Write(const Call& call, json object, const ObjectPtr& old) {
  bool creating = old == nullptr;
  if (call.info.group.empty() && call.info.resource == "namespaces") {
    // kubernetes.io/metadata.name (pkg/registry/core/namespace/strategy.go) lets webhooks
    // select namespaces by name.
    Meta(object)["labels"]["kubernetes.io/metadata.name"] = Meta(object).value("name", "");
    if (!object.contains("status"))
      object["status"] = {{"phase", "Active"}};
  }
  if (call.info.group == "apiextensions.k8s.io") {
    auto served = ResourcesFromCrd(object);
    if (!served.ok()) {
      return Invalid(call.target(Meta(object).value("name", "")), call.info.kind, "spec",
                     "FieldValueInvalid", served.error().message());
    }
    const json names = object["spec"]["names"];
    object["status"] = {{"acceptedNames", names},
                        {"storedVersions", {served->front().version}},
                        {"conditions",
                         {{{"type", "NamesAccepted"},
                           {"status", "True"},
                           {"reason", "NoConflicts"},
                           {"message", "no conflicts found"},
                           {"lastTransitionTime", NowRfc3339()}},
                          {{"type", "Established"},
                           {"status", "True"},
                           {"reason", "InitialNamesAccepted"},
                           {"message", "the initial names have been accepted"},
                           {"lastTransitionTime", NowRfc3339()}}}}};
  }

  auto configurations = store_.List(kWebhookConfigurations, {});
  if (configurations.ok() && !configurations->items.empty()) {
    AdmissionAttributes attributes;
    attributes.operation = creating ? "CREATE" : "UPDATE";
    std::string api_version = object.value("apiVersion", call.info.GroupVersion());
    attributes.kind = {call.info.group, call.info.version, call.info.kind};
    attributes.resource = {call.info.group, call.info.version, call.info.resource};
    attributes.subresource = call.subresource;
    attributes.name = Meta(object).value("name", "");
    attributes.namespace_name = call.namespace_name;
    attributes.namespaced = call.info.namespaced;
    attributes.object = object;
    attributes.old_object = creating ? json(nullptr) : old->object;
    attributes.namespace_labels = NamespaceLabels(call, object);
    attributes.dry_run = call.dry_run;
    AdmissionOutcome outcome =
        RunMutatingAdmission(Objects(*configurations), std::move(attributes), transport_);
    if (!outcome.allowed)
      return outcome.rejection;
    object = std::move(outcome.object);
  }

  if (creating && Meta(object).value("name", "").empty()) {
    Meta(object)["name"] = GenerateName(Meta(object).value("generateName", ""));
  }
  std::string name = Meta(object).value("name", "");
  if (call.dry_run) {
    if (creating) {
      Meta(object)["uid"] = NewUid();
      Meta(object)["creationTimestamp"] = NowRfc3339();
    } else {
      for (const char* field : {"uid", "creationTimestamp", "resourceVersion", "generation"}) {
        if (old->object["metadata"].contains(field)) {
          Meta(object)[field] = old->object["metadata"][field];
        }
      }
    }
    return JsonOk(creating ? 201 : 200, object.dump());
  }
  auto stored = creating ? store_.Create(call.key(), std::move(object))
                         : store_.Update(call.key(), std::move(object));
  if (!stored.ok())
    return StoreError(call.target(name), stored.error());
  AfterWrite(call, *stored, false);
  return JsonOk(creating ? 201 : 200, Render(call, *stored));
}

http::Response ApiServer::WriteScale(const Call& call, json scale, const ObjectPtr& old) {
  const json spec = scale.value("spec", json::object());
  if (!spec.contains("replicas") || !spec["replicas"].is_number_integer() ||
      spec["replicas"].get<int64_t>() < 0) {
    return Invalid(call.target(), "Scale", "spec.replicas", "FieldValueInvalid",
                   "Invalid value: must be greater than or equal to 0");
  }
  json old_scale = ScaleOf(old->object);
  auto configurations = store_.List(kWebhookConfigurations, {});
  if (configurations.ok() && !configurations->items.empty()) {
    AdmissionAttributes attributes;
    attributes.operation = "UPDATE";
    attributes.kind = {"autoscaling", "v1", "Scale"};
    attributes.resource = {call.info.group, call.info.version, call.info.resource};
    attributes.subresource = "scale";
    attributes.name = call.name;
    attributes.namespace_name = call.namespace_name;
    attributes.namespaced = call.info.namespaced;
    attributes.object = scale;
    attributes.old_object = old_scale;
    attributes.namespace_labels = NamespaceLabels(call, old->object);
    attributes.dry_run = call.dry_run;
    AdmissionOutcome outcome =
        RunMutatingAdmission(Objects(*configurations), std::move(attributes), transport_);
    if (!outcome.allowed)
      return outcome.rejection;
    scale = std::move(outcome.object);
  }
  json updated = old->object;
  updated["spec"]["replicas"] = scale["spec"].value("replicas", 0);
  updated["metadata"]["resourceVersion"] = MetaValue(scale, "resourceVersion");
  if (call.dry_run)
    return JsonOk(200, ScaleOf(updated).dump());
  auto stored = store_.Update(call.key(), std::move(updated));
  if (!stored.ok())
    return StoreError(call.target(), stored.error());
  return JsonOk(200, ScaleOf((*stored)->object).dump());
}

http::Response ApiServer::Patch(const Call& call) {
  std::string type = call.request->Header("content-type");
  type = type.substr(0, type.find(';'));
  bool json_patch = type == "application/json-patch+json";
  if (!json_patch && type != "application/merge-patch+json" &&
      type != "application/strategic-merge-patch+json") {
    return StatusResponse(415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - accepted media "
                          "types include: application/json-patch+json, "
                          "application/merge-patch+json, application/strategic-merge-patch+json",
                          nlohmann::ordered_json::object());
  }
  json patch = json::parse(call.request->body, nullptr, false);
  if (patch.is_discarded() || (json_patch ? !patch.is_array() : !patch.is_object())) {
    return BadRequest(json_patch ? "json: cannot unmarshal object into Go value of type "
                                   "jsonpatch.Patch"
                                 : "error decoding patch: the patch is not a JSON object");
  }
  for (int attempt = 0;; ++attempt) {
    auto old = store_.Get(call.key(), call.namespace_name, call.name);
    if (!old.ok())
      return NotFound(call.target());
    json view = call.subresource == "scale" ? ScaleOf((*old)->object) : (*old)->object;
    json patched;
    if (json_patch) {
      try {
        patched = view.patch(patch);
      } catch (const json::exception& e) {
        return StatusResponse(422, "Invalid", e.what());
      }
    } else {
      patched = view;
      patched.merge_patch(patch);
    }
    if (!patched.is_object())
      return StatusResponse(422, "Invalid", "the patched object is not an object");
    bool pinned_rv = MetaValue(patched, "resourceVersion") != MetaValue(view, "resourceVersion");
    http::Response response = call.subresource == "scale"
                                  ? WriteScale(call, std::move(patched), *old)
                                  : Update(call, std::move(patched), false);
    // kube-apiserver retries a patch internally on conflicts it caused itself (GuaranteedUpdate).
    bool conflict = response.status == 409 &&
                    response.body.find("\"reason\":\"Conflict\"") != std::string::npos;
    if (!conflict || pinned_rv || attempt >= 4)
      return response;
  }
}

http::Response ApiServer::Delete(const Call& call) {
  json options =
      call.request->body.empty() ? json::object() : json::parse(call.request->body, nullptr, false);
  if (options.is_null())
    options = json::object();  // Go's decoder takes `null` as no options
  if (options.is_discarded() || !options.is_object()) {
    return BadRequest("the body of the request is not a DeleteOptions object");
  }
  const json preconditions = options.value("preconditions", json::object());
  bool dry_run = call.dry_run;
  if (options.contains("dryRun") && options["dryRun"].is_array()) {
    for (const auto& value : options["dryRun"])
      dry_run = dry_run || value == "All";
  }
  auto current = store_.Get(call.key(), call.namespace_name, call.name);
  if (!current.ok())
    return NotFound(call.target());
  auto configurations = store_.List(kWebhookConfigurations, {});
  if (configurations.ok() && !configurations->items.empty()) {
    AdmissionAttributes attributes;
    attributes.operation = "DELETE";
    attributes.kind = {call.info.group, call.info.version, call.info.kind};
    attributes.resource = {call.info.group, call.info.version, call.info.resource};
    attributes.name = call.name;
    attributes.namespace_name = call.namespace_name;
    attributes.namespaced = call.info.namespaced;
    attributes.object = nullptr;
    attributes.old_object = (*current)->object;
    attributes.namespace_labels = NamespaceLabels(call, (*current)->object);
    attributes.dry_run = dry_run;
    AdmissionOutcome outcome =
        RunMutatingAdmission(Objects(*configurations), std::move(attributes), transport_);
    if (!outcome.allowed)
      return outcome.rejection;
  }
  if (dry_run)
    return JsonOk(200, Render(call, *current));
  bool is_namespace = call.info.group.empty() && call.info.resource == "namespaces";
  auto deleted =
      store_.Delete(call.key(), call.namespace_name, call.name, preconditions.value("uid", ""),
                    preconditions.value("resourceVersion", ""));
  if (!deleted.ok())
    return StoreError(call.target(), deleted.error());
  // Namespaces go at once with everything in them (the emulator plays the namespace controller).
  if (is_namespace)
    store_.DeleteNamespaceContents(call.name);
  bool pending = (*deleted)->object["metadata"].contains("deletionTimestamp") &&
                 store_.Get(call.key(), call.namespace_name, call.name).ok();
  if (!pending)
    AfterWrite(call, *deleted, true);
  return JsonOk(pending ? 202 : 200, Render(call, *deleted));
}

http::Response ApiServer::DeleteCollection(const Call& call) {
  auto selected = SelectorQuery(*call.request, call.namespace_name);
  if (!selected.ok())
    return BadRequest(selected.error().message());
  ListQuery query = std::move(selected).value();
  auto page = store_.List(call.key(), query);
  if (!page.ok())
    return BadRequest(page.error().message());
  std::string items;
  for (const auto& item : page->items) {
    if (call.dry_run)
      continue;
    auto deleted = store_.Delete(call.key(), item->namespace_name, item->name);
    if (!deleted.ok())
      continue;  // deleted concurrently
    Call one = call;
    one.name = item->name;
    AfterWrite(one, *deleted, true);
    if (!items.empty())
      items += ',';
    items += (*deleted)->json;
  }
  return JsonOk(200, R"({"kind":")" + call.info.list_kind + R"(","apiVersion":")" +
                         call.info.GroupVersion() + R"(","metadata":{},"items":[)" + items + "]}");
}

void ApiServer::AfterWrite(const Call& call, const ObjectPtr& object, bool deleted) {
  if (call.info.group != "apiextensions.k8s.io")
    return;
  const json& spec = object->object["spec"];
  std::unique_lock lock(registry_mutex_);
  registry_.Remove(spec.value("group", ""), spec["names"].value("plural", ""));
  if (deleted)
    return;
  auto served = ResourcesFromCrd(object->object);
  if (!served.ok())
    return;  // validated before the write
  for (auto& info : *served)
    registry_.Add(std::move(info));
}

}  // namespace seedhop::emulator
