#include "test/support/etcd_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "test/support/process.h"

namespace seedhop::testing {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Asks the kernel for a free loopback port. Another process may take it before etcd binds it;
// Spawn then fails with etcd's "address already in use" in the log tail.
Result<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Error(ErrorCode::kInternal, "socket: " + std::string(strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::string message = strerror(errno);
    ::close(fd);
    return Error(ErrorCode::kInternal, "bind a free port: " + message);
  }
  ::close(fd);
  return static_cast<int>(ntohs(address.sin_port));
}

int PortOf(const std::string& url) {
  return std::atoi(url.substr(url.rfind(':') + 1).c_str());
}

}  // namespace

EtcdCluster::EtcdCluster(EtcdClusterOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(EtcdClusterOptions options) {
  if (options.members < 1)
    return Error(ErrorCode::kInvalid, "etcd cluster: members must be at least 1");
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(std::move(options)));
  if (auto prepared = cluster->Prepare(); !prepared.ok())
    return prepared.error();
  std::string initial_cluster;
  for (int i = 0; i < cluster->options_.members; ++i) {
    int index = cluster->Reserve();
    initial_cluster +=
        (initial_cluster.empty() ? "" : ",") + cluster->Name(index) + "=" + cluster->PeerUrl(index);
  }
  for (int i = 0; i < cluster->size(); ++i) {
    if (auto spawned = cluster->Spawn(i, initial_cluster, "new"); !spawned.ok())
      return spawned.error();
  }
  // Every member must answer /health with true: a leader exists and the member can read.
  http::Client client(cluster->ClientOptions());
  const auto deadline = std::chrono::steady_clock::now() + cluster->options_.start_timeout;
  for (int i = 0; i < cluster->size(); ++i) {
    std::string last = "no answer";
    while (true) {
      int status = 0;
      if (::waitpid(cluster->slots_[i].pid, &status, WNOHANG) == cluster->slots_[i].pid) {
        cluster->slots_[i].pid = -1;
        return Error(ErrorCode::kUnavailable, "etcd member " + cluster->Name(i) +
                                                  " exited during start: " + cluster->LogTail(i));
      }
      http::ClientRequest request;
      request.url = cluster->ClientUrl(i) + "/health";
      request.timeout = 1000ms;
      auto response = client.Send(request);
      if (response.ok() && response->status == 200 &&
          response->body.find("\"true\"") != std::string::npos)
        break;
      last = response.ok() ? response->body : response.error().message();
      if (std::chrono::steady_clock::now() > deadline)
        return Error(ErrorCode::kTimeout, "etcd member " + cluster->Name(i) +
                                              " not healthy in time (" + last +
                                              "): " + cluster->LogTail(i));
      std::this_thread::sleep_for(50ms);
    }
  }
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i)
    Kill(i);
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

Status EtcdCluster::Prepare() {
  if (::access(options_.etcd_binary.c_str(), X_OK) != 0)
    return Error(ErrorCode::kNotFound, "etcd cluster: " + options_.etcd_binary +
                                           " not found (apt-get install etcd-server)");
  auto root = MakeTempDir("seedhop-etcd-");
  if (!root.ok())
    return root.error().Wrap("etcd cluster");
  root_ = *root;
  token_ = fs::path(root_).filename().string();
  if (!options_.tls)
    return OkStatus();
  ca_ = MakeCa("seedhop-etcd-test-ca");
  // One certificate serves every member, for its client port, its peer port and as its peer client
  // certificate: all members listen on 127.0.0.1.
  CertPair server = MakeLeaf(ca_, "etcd", {"127.0.0.1", "localhost"});
  client_ = MakeLeaf(ca_, "seedhop-etcd-test-client", {"seedhop-etcd-test-client"});
  for (const auto& [file, content] : {std::pair<std::string, std::string>{"ca.crt", ca_.cert_pem},
                                      {"server.crt", server.cert_pem},
                                      {"server.key", server.key_pem}}) {
    if (auto written = WriteFile(root_ + "/" + file, content); !written.ok())
      return written.error().Wrap("etcd cluster");
  }
  return OkStatus();
}

const std::string& EtcdCluster::Name(int index) const {
  return slots_.at(index).name;
}

const std::string& EtcdCluster::ClientUrl(int index) const {
  return slots_.at(index).client_url;
}

const std::string& EtcdCluster::PeerUrl(int index) const {
  return slots_.at(index).peer_url;
}

bool EtcdCluster::IsRunning(int index) const {
  return slots_.at(index).pid > 0;
}

std::vector<std::string> EtcdCluster::RunningClientUrls() const {
  std::vector<std::string> urls;
  for (const auto& slot : slots_) {
    if (slot.pid > 0)
      urls.push_back(slot.client_url);
  }
  return urls;
}

std::string EtcdCluster::LogPath(int index) const {
  return root_ + "/" + Name(index) + ".log";
}

int EtcdCluster::Reserve() {
  const std::string scheme = options_.tls ? "https" : "http";
  Slot slot;
  slot.name = options_.name_prefix + std::to_string(slots_.size());
  // Ports already given to other slots may be free again until their etcd binds them: skip those.
  // A port some other process takes before etcd binds it shows up as a start failure with etcd's
  // log.
  std::set<int> used;
  for (const auto& other : slots_) {
    used.insert(PortOf(other.client_url));
    used.insert(PortOf(other.peer_url));
  }
  auto pick = [&used]() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto port = FreePort();
      if (port.ok() && used.insert(*port).second)
        return *port;
    }
    return 0;
  };
  const int client_port = pick();
  const int peer_port = pick();
  slot.client_url = scheme + "://127.0.0.1:" + std::to_string(client_port);
  slot.peer_url = scheme + "://127.0.0.1:" + std::to_string(peer_port);
  slot.data_dir = root_ + "/" + slot.name + ".etcd";
  slots_.push_back(std::move(slot));
  return size() - 1;
}

Status EtcdCluster::Spawn(int index, const std::string& initial_cluster, const std::string& state) {
  Slot& slot = slots_.at(index);
  if (PortOf(slot.client_url) == 0 || PortOf(slot.peer_url) == 0)
    return Error(ErrorCode::kInternal, "etcd member " + slot.name + ": no free port");
  // Flags: etcd's embed/config.go (etcd 3.4), as `etcd --help` lists them.
  std::vector<std::string> args = {
      options_.etcd_binary,
      "--name=" + slot.name,
      "--data-dir=" + slot.data_dir,
      "--listen-client-urls=" + slot.client_url,
      "--advertise-client-urls=" + slot.client_url,
      "--listen-peer-urls=" + slot.peer_url,
      "--initial-advertise-peer-urls=" + slot.peer_url,
      "--initial-cluster=" + initial_cluster,
      "--initial-cluster-state=" + state,
      "--initial-cluster-token=" + token_,
      "--heartbeat-interval=" + std::to_string(options_.heartbeat_interval_ms),
      "--election-timeout=" + std::to_string(options_.election_timeout_ms),
      "--logger=zap",
      "--log-outputs=stderr",
  };
  if (options_.tls) {
    const std::string ca = root_ + "/ca.crt";
    const std::string cert = root_ + "/server.crt";
    const std::string key = root_ + "/server.key";
    for (const std::string& arg :
         {"--cert-file=" + cert, "--key-file=" + key, "--trusted-ca-file=" + ca,
          std::string("--client-cert-auth"), "--peer-cert-file=" + cert, "--peer-key-file=" + key,
          "--peer-trusted-ca-file=" + ca, std::string("--peer-client-cert-auth")}) {
      args.push_back(arg);
    }
  }
  auto pid = SpawnProcess({std::move(args), LogPath(index), {}});
  if (!pid.ok())
    return pid.error().Wrap("etcd member " + slot.name);
  slot.pid = *pid;
  return OkStatus();
}

Status EtcdCluster::WaitListening(int index) {
  Slot& slot = slots_.at(index);
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  while (!AcceptsConnections("127.0.0.1", PortOf(slot.client_url))) {
    int status = 0;
    if (::waitpid(slot.pid, &status, WNOHANG) == slot.pid) {
      slot.pid = -1;
      return Error(ErrorCode::kUnavailable,
                   "etcd member " + slot.name + " exited during start: " + LogTail(index));
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ErrorCode::kTimeout,
                   "etcd member " + slot.name + " not listening in time: " + LogTail(index));
    std::this_thread::sleep_for(20ms);
  }
  return OkStatus();
}

Status EtcdCluster::StartJoining(int index, const std::string& initial_cluster) {
  if (IsRunning(index))
    return Error(ErrorCode::kConflict, "etcd member " + Name(index) + " is already running");
  if (auto spawned = Spawn(index, initial_cluster, "existing"); !spawned.ok())
    return spawned;
  return WaitListening(index);
}

Status EtcdCluster::Restart(int index) {
  if (IsRunning(index))
    return Error(ErrorCode::kConflict, "etcd member " + Name(index) + " is already running");
  if (!fs::exists(slots_.at(index).data_dir))
    return Error(ErrorCode::kNotFound,
                 "etcd member " + Name(index) + " has no data to restart from");
  // With a data directory, etcd ignores the initial-cluster flags.
  if (auto spawned = Spawn(index, Name(index) + "=" + PeerUrl(index), "existing"); !spawned.ok())
    return spawned;
  return WaitListening(index);
}

void EtcdCluster::Kill(int index) {
  Slot& slot = slots_.at(index);
  if (slot.pid <= 0)
    return;
  StopProcess(slot.pid, SIGKILL, std::chrono::milliseconds(0));
  slot.pid = -1;
}

http::ClientOptions EtcdCluster::ClientOptions() const {
  http::ClientOptions options = ClientOptionsWithoutCert();
  if (options_.tls) {
    options.client_cert_pem = client_.cert_pem;
    options.client_key_pem = client_.key_pem;
  }
  return options;
}

http::ClientOptions EtcdCluster::ClientOptionsWithoutCert() const {
  http::ClientOptions options;
  options.connect_timeout = 2000ms;
  options.request_timeout = 5000ms;
  if (options_.tls)
    options.ca_pem = ca_.cert_pem;
  return options;
}

std::string EtcdCluster::LogTail(int index) const {
  return FileTail(LogPath(index), 1500);
}

}  // namespace seedhop::testing
