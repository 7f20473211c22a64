#include "common/etcd/client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/encoding/base64.h"

namespace seedhop::etcd {

namespace {

using json = nlohmann::json;

// etcd's ErrLearnerNotReady text (etcd 3.4: etcdserver/api/v3rpc/rpctypes/error.go,
// ErrGRPCLearnerNotReady).
constexpr std::string_view kLearnerNotReadyText =
    "can only promote a learner member which is in sync with leader";

// gRPC status codes (google.golang.org/grpc/codes) that etcd's gateway puts in error bodies.
enum GrpcCode {
  kGrpcInvalidArgument = 3,
  kGrpcDeadlineExceeded = 4,
  kGrpcNotFound = 5,
  kGrpcAlreadyExists = 6,
  kGrpcPermissionDenied = 7,
  kGrpcResourceExhausted = 8,
  kGrpcFailedPrecondition = 9,
  kGrpcUnavailable = 14,
  kGrpcUnauthenticated = 16,
};

std::string Truncate(std::string text, size_t limit = 200) {
  if (text.size() > limit) {
    text.resize(limit);
    text += "...";
  }
  return text;
}

// Reads a protobuf 64-bit integer field into `out`: a JSON string (how the gateway writes them)
// or a number. Absent fields are zero (proto3 omits defaults).
template <typename Int>
seedhop::Status ReadInt(const json& object, const char* name, Int* out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    *out = 0;
    return OkStatus();
  }
  if (it->is_number_integer() && (std::is_signed_v<Int> || it->is_number_unsigned())) {
    *out = it->get<Int>();
    return OkStatus();
  }
  if (it->is_string()) {
    const std::string& text = it->get_ref<const std::string&>();
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= '0' && c <= '9') || (std::is_signed_v<Int> && c == '-');
    });
    if (digits) {
      try {
        size_t used = 0;
        *out = std::is_signed_v<Int> ? static_cast<Int>(std::stoll(text, &used))
                                     : static_cast<Int>(std::stoull(text, &used));
        if (used == text.size())
          return OkStatus();
      } catch (const std::exception&) {
        // Out of range: reported below like any other malformed value.
      }
    }
  }
  return Error(ErrorCode::kInternal,
               std::string("field ") + name + " is not an integer: " + Truncate(it->dump()));
}

std::string StringField(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool BoolField(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::vector<std::string> StringList(const json& object, const char* name) {
  std::vector<std::string> out;
  auto it = object.find(name);
  if (it == object.end() || !it->is_array())
    return out;
  for (const auto& item : *it) {
    if (item.is_string())
      out.push_back(item.get<std::string>());
  }
  return out;
}

Result<Member> ParseMember(const json& object) {
  if (!object.is_object())
    return Error(ErrorCode::kInternal, "member is not an object: " + object.dump());
  Member member;
  if (auto read = ReadInt(object, "ID", &member.id); !read.ok())
    return read.error();
  member.name = StringField(object, "name");
  member.peer_urls = StringList(object, "peerURLs");
  member.client_urls = StringList(object, "clientURLs");
  member.is_learner = BoolField(object, "isLearner");
  return member;
}

ErrorCode CodeForGrpc(int code) {
  switch (code) {
    case kGrpcInvalidArgument:
      return ErrorCode::kInvalid;
    case kGrpcDeadlineExceeded:
      return ErrorCode::kTimeout;
    case kGrpcNotFound:
      return ErrorCode::kNotFound;
    case kGrpcAlreadyExists:
      return ErrorCode::kAlreadyExists;
    case kGrpcPermissionDenied:
      return ErrorCode::kForbidden;
    case kGrpcResourceExhausted:
      return ErrorCode::kTooManyRequests;
    case kGrpcFailedPrecondition:
      return ErrorCode::kConflict;
    case kGrpcUnavailable:
      return ErrorCode::kUnavailable;
    case kGrpcUnauthenticated:
      return ErrorCode::kUnauthorized;
    default:
      return ErrorCode::kInternal;
  }
}

// Turns a non-2xx answer into an error. The gateway's body names the gRPC code and etcd's message;
// anything else (a proxy's page, a plain-text 404) is reported by HTTP status.
Error ErrorFromResponse(const http::ClientResponse& response) {
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("code") && body["code"].is_number_integer()) {
    std::string message = StringField(body, "error");
    if (message.empty())
      message = StringField(body, "message");
    if (message.find(kLearnerNotReadyText) != std::string::npos)
      return Error(ErrorCode::kUnavailable, message);
    return Error(CodeForGrpc(body["code"].get<int>()), message);
  }
  return Error(ErrorCodeForHttpStatus(response.status),
               "HTTP " + std::to_string(response.status) + ": " + Truncate(response.body));
}

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

// "etcd member add https://10.0.0.9:2380 (via https://10.0.0.1:2379)": what failed, and where.
std::string Context(const std::string& op, const std::string& endpoint) {
  return "etcd " + op + " (via " + endpoint + ")";
}

std::string IdString(uint64_t id) {
  return std::to_string(id);
}

}  // namespace

struct Client::Reply {
  std::string endpoint;
  json body;
};

MemberHealth AssessMember(const Member& member, const Result<EndpointStatus>& status) {
  MemberHealth health;
  health.member = member;
  if (!status.ok()) {
    health.problem = status.error().message();
    return health;
  }
  health.status = *status;
  if (status->leader_id == 0) {
    health.problem = "no leader";
  } else if (!status->errors.empty()) {
    std::string joined;
    for (const auto& error : status->errors)
      joined += (joined.empty() ? "" : "; ") + error;
    health.problem = "errors: " + joined;
  } else if (status->member_id != 0 && status->member_id != member.id) {
    health.problem =
        "endpoint " + status->endpoint + " answered as member " + IdString(status->member_id);
  } else {
    health.healthy = true;
  }
  return health;
}

ClusterHealth SummarizeHealth(std::vector<MemberHealth> members) {
  ClusterHealth cluster;
  uint64_t leader_term = 0;
  for (const auto& health : members) {
    if (health.member.is_learner) {
      ++cluster.learners;
    } else {
      ++cluster.voters;
      if (health.healthy)
        ++cluster.healthy_voters;
    }
    if (health.healthy && health.status && health.status->raft_term >= leader_term) {
      leader_term = health.status->raft_term;
      cluster.leader_id = health.status->leader_id;
    }
  }
  cluster.failure_tolerance = cluster.healthy_voters - (cluster.voters / 2 + 1);
  cluster.members = std::move(members);
  return cluster;
}

bool IsLearnerNotReady(const Error& error) {
  return error.message().find(kLearnerNotReadyText) != std::string::npos;
}

Client::Client(std::vector<std::string> endpoints, http::ClientOptions options)
    : has_client_cert_(!options.client_cert_pem.empty()),
      http_(std::make_unique<http::Client>(std::move(options))) {
  for (auto& endpoint : endpoints)
    endpoints_.push_back(TrimSlash(std::move(endpoint)));
}

Client::~Client() = default;

Error Client::TransportError(const std::string& op, const Error& error) const {
  Error wrapped = error.Wrap("etcd " + op);
  // etcd with --client-cert-auth rejects the handshake; OpenSSL reports it as an alert about the
  // client's certificate ("bad certificate", "certificate required").
  const std::string& message = error.message();
  if (!has_client_cert_ && (message.find("bad certificate") != std::string::npos ||
                            message.find("certificate required") != std::string::npos))
    return Error(wrapped.code(),
                 wrapped.message() + " (no client certificate configured; etcd may require one)");
  return wrapped;
}

Result<Client::Reply> Client::CallOne(const std::string& op, const std::string& endpoint,
                                      const std::string& path, const std::string& body,
                                      bool* unreachable) {
  const std::string context = Context(op, endpoint);
  http::ClientRequest request;
  request.method = "POST";
  request.url = endpoint + path;
  request.headers["content-type"] = "application/json";
  request.body = body;
  auto response = http_->Send(request);
  if (!response.ok()) {
    if (unreachable != nullptr)
      *unreachable = true;
    return TransportError(op, response.error());
  }
  if (response->status < 200 || response->status > 299) {
    Error error = ErrorFromResponse(*response).Wrap(context);
    // A learner answers most requests with etcd's ErrGRPCNotSupportedForLearner: this endpoint
    // cannot serve them, but a voter can, so failover treats it like an unreachable one.
    if (unreachable != nullptr &&
        error.message().find("rpc not supported for learner") != std::string::npos)
      *unreachable = true;
    return error;
  }
  json parsed = json::parse(response->body, nullptr, false);
  if (!parsed.is_object())
    return Error(ErrorCode::kInternal, "response is not a JSON object: " + Truncate(response->body))
        .Wrap(context);
  return Reply{endpoint, std::move(parsed)};
}

Result<Client::Reply> Client::Call(const std::string& op, const std::string& path,
                                   const std::string& body,
                                   const std::vector<std::string>& try_last) {
  if (endpoints_.empty())
    return Error(ErrorCode::kInvalid, "etcd " + op + ": no endpoints configured");
  const size_t start = preferred_.load();
  std::string failures;
  ErrorCode code = ErrorCode::kUnavailable;
  std::vector<size_t> order;
  for (size_t i = 0; i < endpoints_.size(); ++i)
    order.push_back((start + i) % endpoints_.size());
  std::stable_partition(order.begin(), order.end(), [&](size_t index) {
    return std::find(try_last.begin(), try_last.end(), endpoints_[index]) == try_last.end();
  });
  for (size_t index : order) {
    bool unreachable = false;
    auto reply = CallOne(op, endpoints_[index], path, body, &unreachable);
    if (reply.ok()) {
      preferred_.store(index);
      return reply;
    }
    // An HTTP answer is etcd's verdict; only an unreachable endpoint is worth trying the next one.
    if (!unreachable || endpoints_.size() == 1)
      return reply;
    code = reply.error().code();
    std::string message = reply.error().message();
    const std::string prefix = "etcd " + op + ": ";
    if (message.rfind(prefix, 0) == 0)
      message.erase(0, prefix.size());
    failures += (failures.empty() ? "" : "; ") + message;
  }
  return Error(code, "etcd " + op + ": no endpoint reachable: " + failures);
}

Result<std::vector<Member>> Client::MemberList() {
  auto reply = Call("member list", "/v3/cluster/member/list", "{}");
  if (!reply.ok())
    return reply.error();
  std::vector<Member> members;
  auto it = reply->body.find("members");
  if (it == reply->body.end() || !it->is_array())
    return Error(ErrorCode::kInternal,
                 Context("member list", reply->endpoint) + ": no members in reply");
  for (const auto& item : *it) {
    auto member = ParseMember(item);
    if (!member.ok())
      return member.error().Wrap(Context("member list", reply->endpoint));
    members.push_back(std::move(*member));
  }
  return members;
}

Result<Member> Client::MemberAdd(const std::vector<std::string>& peer_urls, bool learner) {
  std::string urls;
  for (const auto& url : peer_urls)
    urls += (urls.empty() ? "" : ",") + url;
  const std::string op = "member add " + urls;
  if (peer_urls.empty())
    return Error(ErrorCode::kInvalid, "etcd member add: no peer URLs");
  json body = {{"peerURLs", peer_urls}, {"isLearner", learner}};
  auto reply = Call(op, "/v3/cluster/member/add", body.dump());
  if (!reply.ok())
    return reply.error();
  auto it = reply->body.find("member");
  if (it == reply->body.end())
    return Error(ErrorCode::kInternal, Context(op, reply->endpoint) + ": no member in reply");
  auto member = ParseMember(*it);
  if (!member.ok())
    return member.error().Wrap(Context(op, reply->endpoint));
  return member;
}

seedhop::Status Client::MemberRemove(uint64_t id) {
  std::vector<std::string> own_urls;
  if (auto members = MemberList(); members.ok()) {
    for (const auto& member : *members) {
      if (member.id == id) {
        for (const auto& url : member.client_urls)
          own_urls.push_back(TrimSlash(url));
      }
    }
  }
  json body = {{"ID", IdString(id)}};
  auto reply =
      Call("member remove " + IdString(id), "/v3/cluster/member/remove", body.dump(), own_urls);
  if (!reply.ok())
    return reply.error();
  return OkStatus();
}

seedhop::Status Client::MemberPromote(uint64_t id) {
  json body = {{"ID", IdString(id)}};
  auto reply = Call("member promote " + IdString(id), "/v3/cluster/member/promote", body.dump());
  if (!reply.ok())
    return reply.error();
  return OkStatus();
}

Result<EndpointStatus> Client::Status(const std::string& endpoint) {
  const std::string url = TrimSlash(endpoint);
  auto reply = CallOne("status", url, "/v3/maintenance/status", "{}");
  if (!reply.ok())
    return reply.error();
  const json& body = reply->body;
  EndpointStatus status;
  status.endpoint = url;
  static const json kNoHeader = json::object();
  auto header = body.find("header");
  const json& header_object = header != body.end() && header->is_object() ? *header : kNoHeader;
  for (auto read :
       {ReadInt(header_object, "member_id", &status.member_id),
        ReadInt(body, "leader", &status.leader_id), ReadInt(body, "raftIndex", &status.raft_index),
        ReadInt(body, "raftAppliedIndex", &status.raft_applied_index),
        ReadInt(body, "raftTerm", &status.raft_term),
        ReadInt(body, "dbSize", &status.db_size_bytes)}) {
    if (!read.ok())
      return read.error().Wrap("etcd status " + url);
  }
  status.version = StringField(body, "version");
  status.is_learner = BoolField(body, "isLearner");
  status.errors = StringList(body, "errors");
  return status;
}

Result<EndpointHealth> Client::Health(const std::string& endpoint) {
  const std::string url = TrimSlash(endpoint);
  http::ClientRequest request;
  request.url = url + "/health";
  auto response = http_->Send(request);
  if (!response.ok())
    return TransportError("health", response.error());
  json body = json::parse(response->body, nullptr, false);
  // etcd writes the verdict as a string, {"health":"true"}; some versions add a "reason".
  if (!body.is_object() || !body.contains("health"))
    return Error(ErrorCodeForHttpStatus(response->status),
                 "HTTP " + std::to_string(response->status) +
                     ": not a health answer: " + Truncate(response->body))
        .Wrap("etcd health " + url);
  EndpointHealth health;
  health.endpoint = url;
  const json& value = body["health"];
  health.healthy =
      response->status == 200 && ((value.is_string() && value.get<std::string>() == "true") ||
                                  (value.is_boolean() && value.get<bool>()));
  if (!health.healthy) {
    health.reason = StringField(body, "reason");
    if (health.reason.empty())
      health.reason = "HTTP " + std::to_string(response->status);
  }
  return health;
}

seedhop::Status Client::MoveLeader(uint64_t target_id) {
  const std::string op = "move leader to " + IdString(target_id);
  std::vector<EndpointStatus> statuses;
  std::string failures;
  for (const auto& endpoint : endpoints_) {
    auto status = Status(endpoint);
    if (status.ok()) {
      statuses.push_back(*status);
    } else {
      failures += (failures.empty() ? "" : "; ") + status.error().message();
    }
  }
  // The leader of the highest term is the current one; a partitioned member may remember an old.
  const EndpointStatus* newest = nullptr;
  for (const auto& status : statuses) {
    if (status.leader_id != 0 && (newest == nullptr || status.raft_term > newest->raft_term))
      newest = &status;
  }
  if (newest == nullptr) {
    return Error(ErrorCode::kUnavailable, "etcd " + op + ": no endpoint knows a leader" +
                                              (failures.empty() ? "" : " (" + failures + ")"));
  }
  const uint64_t leader = newest->leader_id;
  if (leader == target_id)
    return OkStatus();
  std::string leader_endpoint;
  for (const auto& status : statuses) {
    if (status.member_id == leader)
      leader_endpoint = status.endpoint;
  }
  if (leader_endpoint.empty()) {
    // No configured endpoint belongs to the leader: use the client URL it advertises.
    auto members = MemberList();
    if (!members.ok())
      return members.error().Wrap("etcd " + op);
    for (const auto& member : *members) {
      if (member.id == leader && !member.client_urls.empty())
        leader_endpoint = TrimSlash(member.client_urls.front());
    }
    if (leader_endpoint.empty())
      return Error(ErrorCode::kUnavailable,
                   "etcd " + op + ": leader " + IdString(leader) + " has no reachable client URL");
  }
  json body = {{"targetID", IdString(target_id)}};
  auto reply = CallOne(op, leader_endpoint, "/v3/maintenance/transfer-leadership", body.dump());
  if (!reply.ok())
    return reply.error();
  return OkStatus();
}

Result<ClusterHealth> Client::CheckHealth() {
  auto members = MemberList();
  if (!members.ok())
    return members.error().Wrap("etcd cluster health");
  std::map<uint64_t, EndpointStatus> by_member;
  for (const auto& endpoint : endpoints_) {
    auto status = Status(endpoint);
    if (status.ok())
      by_member.emplace(status->member_id, *status);
  }
  std::vector<MemberHealth> assessed;
  for (const auto& member : *members) {
    auto known = by_member.find(member.id);
    if (known != by_member.end()) {
      assessed.push_back(AssessMember(member, known->second));
    } else if (member.client_urls.empty()) {
      assessed.push_back(AssessMember(
          member, Error(ErrorCode::kUnavailable,
                        "member " + IdString(member.id) + " has not started (no client URLs)")));
    } else {
      assessed.push_back(AssessMember(member, Status(member.client_urls.front())));
    }
  }
  return SummarizeHealth(std::move(assessed));
}

Result<int64_t> Client::Put(const std::string& key, const std::string& value) {
  json body = {{"key", encoding::Base64Encode(key)}, {"value", encoding::Base64Encode(value)}};
  auto reply = Call("put", "/v3/kv/put", body.dump());
  if (!reply.ok())
    return reply.error();
  auto header = reply->body.find("header");
  if (header == reply->body.end() || !header->is_object())
    return Error(ErrorCode::kInternal, Context("put", reply->endpoint) + ": no header in reply");
  int64_t revision = 0;
  if (auto read = ReadInt(*header, "revision", &revision); !read.ok())
    return read.error().Wrap(Context("put", reply->endpoint));
  return revision;
}

Result<std::optional<std::string>> Client::Get(const std::string& key) {
  json body = {{"key", encoding::Base64Encode(key)}};
  auto reply = Call("get", "/v3/kv/range", body.dump());
  if (!reply.ok())
    return reply.error();
  auto kvs = reply->body.find("kvs");
  if (kvs == reply->body.end() || !kvs->is_array() || kvs->empty())
    return std::optional<std::string>();
  const std::string encoded = StringField(kvs->front(), "value");
  auto value = encoding::Base64Decode(encoded);
  if (!value)
    return Error(ErrorCode::kInternal, Context("get", reply->endpoint) + ": value is not base64");
  return std::optional<std::string>(std::move(*value));
}

}  // namespace seedhop::etcd
