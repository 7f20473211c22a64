#include "common/etcd/sessions.h"

#include <utility>
#include <vector>

namespace seedhop::etcd {

namespace {

std::vector<std::string> Urls(const std::map<int, std::string>& endpoints) {
  std::vector<std::string> urls;
  for (const auto& [ordinal, url] : endpoints)
    urls.push_back(url);
  return urls;
}

}  // namespace

Session::Session(std::map<int, std::string> endpoints, const http::ClientOptions& options)
    : endpoints_(std::move(endpoints)), client_(Urls(endpoints_), options) {}

std::shared_ptr<Session> Sessions::For(const std::string& etcd,
                                       std::map<int, std::string> endpoints,
                                       const http::ClientOptions& options) {
  std::shared_ptr<Session>& session = sessions_[etcd];
  if (session == nullptr || session->endpoints() != endpoints)
    session = std::make_shared<Session>(std::move(endpoints), options);
  return session;
}

}  // namespace seedhop::etcd
