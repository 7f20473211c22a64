#include "test/support/etcd_pod_front.h"

#include <nlohmann/json.hpp>

namespace seedhop::testing {
namespace {

// etcd's JSON gateway path for MoveLeader (etcd 3.4 etcdserver/etcdserverpb/rpc.proto, service
// Maintenance).
constexpr char kTransferLeadership[] = "/v3/maintenance/transfer-leadership";
// No member has this ID: etcd derives member IDs from a hash of peer URLs, cluster token and time
// (etcd 3.4 etcdserver/api/membership/member.go, NewMember), never 1 in practice.
constexpr char kNoSuchMember[] = "1";

}  // namespace

EtcdPodFront::EtcdPodFront(std::map<std::string, std::string> members)
    : members_(std::move(members)), client_(http::ClientOptions{}) {}

EtcdPodFront::~EtcdPodFront() {
  if (server_)
    server_->Shutdown();
}

Status EtcdPodFront::Start() {
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.blocking_handlers = true;
  server_ = std::make_unique<http::Server>(options, nullptr, nullptr);
  server_->RoutePrefix("/", [this](const http::Request& request) { return Forward(request); });
  return server_->Start();
}

std::string EtcdPodFront::UrlTemplate() const {
  return "http://127.0.0.1:" + std::to_string(server_->port()) + "/{pod}";
}

http::Response EtcdPodFront::Forward(const http::Request& request) {
  // "/etcd-main-0/v3/kv/put": the pod, then the path etcd serves.
  const size_t slash = request.path.find('/', 1);
  const std::string pod = request.path.substr(1, slash == std::string::npos ? slash : slash - 1);
  const std::string path = slash == std::string::npos ? "/" : request.path.substr(slash);
  auto member = members_.find(pod);
  if (member == members_.end())
    return http::Response::Text(404, "no etcd member under /" + pod + "\n");
  http::ClientRequest forwarded;
  forwarded.method = request.method;
  forwarded.url = member->second + path + (request.query.empty() ? "" : "?" + request.query);
  forwarded.body = request.body;
  if (std::string type = request.Header("content-type"); !type.empty())
    forwarded.headers["content-type"] = type;
  if (path == kTransferLeadership) {
    ++transfers_;
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (refuse_transfers_ && body.is_object()) {
      body["targetID"] = kNoSuchMember;
      forwarded.body = body.dump();
    }
  }
  std::lock_guard lock(client_mutex_);
  auto response = client_.Send(forwarded);
  if (!response.ok())
    return http::Response::Text(502, response.error().message() + "\n");
  http::Response answer;
  answer.status = response->status;
  answer.body = std::move(response->body);
  if (auto type = response->headers.find("content-type"); type != response->headers.end())
    answer.headers["content-type"] = type->second;
  return answer;
}

}  // namespace seedhop::testing
