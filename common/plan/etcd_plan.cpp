#include "common/plan/etcd_plan.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

namespace seedhop::plan {

namespace {
bool IsIpLiteral(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

Result<int32_t> NonNegativeInt(const nlohmann::json& spec, const char* field, bool required) {
  auto it = spec.find(field);
  if (it == spec.end()) {
    if (required)
      return Error(ErrorCode::kInvalid, std::string("spec.") + field + " is required");
    return 0;
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX) {
    return Error(ErrorCode::kInvalid,
                 std::string("spec.") + field + " must be a non-negative integer");
  }
  return static_cast<int32_t>(it->get<int64_t>());
}
}  // namespace

Result<EtcdPlan> ParseEtcdPlan(const nlohmann::json& object) {
  if (!object.is_object())
    return Error(ErrorCode::kInvalid, "EtcdPlan: not a JSON object");
  const auto& metadata = object.value("metadata", nlohmann::json::object());
  EtcdPlan plan;
  plan.namespace_name = metadata.value("namespace", "");
  plan.statefulset = metadata.value("name", "");
  std::string where = "EtcdPlan " + plan.namespace_name + "/" + plan.statefulset;
  if (plan.namespace_name.empty() || plan.statefulset.empty()) {
    return Error(ErrorCode::kInvalid,
                 where + ": metadata.namespace and metadata.name are required");
  }
  auto spec_it = object.find("spec");
  if (spec_it == object.end() || !spec_it->is_object()) {
    return Error(ErrorCode::kInvalid, where + ": spec is required");
  }
  auto replicas = NonNegativeInt(*spec_it, "replicas", true);
  if (!replicas)
    return replicas.error().Wrap(where);
  auto start = NonNegativeInt(*spec_it, "ordinalsStart", false);
  if (!start)
    return start.error().Wrap(where);
  plan.replicas = *replicas;
  plan.ordinals_start = *start;

  std::set<int32_t> seen;
  const auto& members = spec_it->value("remoteMembers", nlohmann::json::array());
  if (!members.is_array()) {
    return Error(ErrorCode::kInvalid, where + ": spec.remoteMembers must be a list");
  }
  for (size_t i = 0; i < members.size(); ++i) {
    std::string field = "spec.remoteMembers[" + std::to_string(i) + "]";
    const auto& member = members[i];
    if (!member.is_object())
      return Error(ErrorCode::kInvalid, where + ": " + field + " must be an object");
    auto ordinal = NonNegativeInt(member, "ordinal", true);
    if (!ordinal)
      return Error(ErrorCode::kInvalid,
                   where + ": " + field + ".ordinal must be a non-negative integer");
    auto address = member.find("address");
    if (address == member.end() || !address->is_string() ||
        !IsIpLiteral(address->get<std::string>())) {
      return Error(ErrorCode::kInvalid, where + ": " + field + ".address must be an IP address");
    }
    if (!seen.insert(*ordinal).second) {
      return Error(ErrorCode::kInvalid,
                   where + ": " + field + ": duplicate ordinal " + std::to_string(*ordinal));
    }
    plan.remote_members.push_back({*ordinal, address->get<std::string>()});
  }
  std::sort(plan.remote_members.begin(), plan.remote_members.end(),
            [](const RemoteMember& a, const RemoteMember& b) { return a.ordinal < b.ordinal; });
  return plan;
}

nlohmann::json ToObject(const EtcdPlan& plan) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& member : plan.remote_members) {
    members.push_back({{"ordinal", member.ordinal}, {"address", member.address}});
  }
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata", {{"name", plan.statefulset}, {"namespace", plan.namespace_name}}},
          {"spec",
           {{"replicas", plan.replicas},
            {"ordinalsStart", plan.ordinals_start},
            {"remoteMembers", members}}}};
}

}  // namespace seedhop::plan
