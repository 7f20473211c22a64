#include "migrator/safety.h"

#include <map>

#include "common/time/rfc3339.h"

namespace seedhop::migrator {

namespace {

// Returns the ordinal in "<etcd>-<digits>" followed by `end` (or the end of `text`); -1 otherwise.
int OrdinalIn(const std::string& etcd, std::string_view text, char end) {
  std::string prefix = etcd + "-";
  if (text.substr(0, prefix.size()) != prefix)
    return -1;
  text.remove_prefix(prefix.size());
  size_t digits = 0;
  int ordinal = 0;
  while (digits < text.size() && digits < 3 && text[digits] >= '0' && text[digits] <= '9')
    ordinal = ordinal * 10 + (text[digits++] - '0');
  if (digits == 0 || (digits < text.size() && text[digits] != end) ||
      (digits == text.size() && end != '\0'))
    return -1;
  return ordinal;
}

}  // namespace

int MemberOrdinal(const std::string& etcd, const std::string& name, const std::string& peer_url) {
  if (int ordinal = OrdinalIn(etcd, name, '\0'); ordinal >= 0)
    return ordinal;
  std::string_view url = peer_url;
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos)
    url.remove_prefix(scheme + 3);
  int ordinal = OrdinalIn(etcd, url, '.');
  // The host must be the pod's name in the StatefulSet's peer service, not just any host
  // starting with "<etcd>-<n>.".
  std::string service = "." + etcd + "-peer.";
  if (ordinal < 0 || url.find(service) == std::string_view::npos)
    return -1;
  return ordinal;
}

Result<MergedView> MergeViews(const std::optional<EtcdView>& local,
                              const std::optional<EtcdView>& remote, int done,
                              std::chrono::system_clock::time_point now,
                              std::chrono::seconds max_age) {
  std::optional<EtcdView> usable_remote;
  std::string remote_problem;
  if (remote) {
    auto observed = ParseTimestamp(remote->observed_at);
    if (remote->after_step < done) {
      remote_problem = "the other side's view predates step " + std::to_string(done);
    } else if (!observed || now - *observed > max_age) {
      remote_problem =
          "the other side's view is older than " + std::to_string(max_age.count()) + "s";
    } else if (!remote->problem.empty() && remote->members.empty()) {
      remote_problem = "the other side sees no members: " + remote->problem;
    } else {
      usable_remote = remote;
    }
  } else {
    remote_problem = "the other side has published no view";
  }
  const EtcdView* list = local && !local->members.empty() ? &*local
                         : usable_remote                  ? &*usable_remote
                                                          : nullptr;
  if (list == nullptr) {
    std::string why =
        local ? (local->problem.empty() ? "no members" : local->problem) : "no local pods";
    return Error(ErrorCode::kUnavailable,
                 "no view of the member list: here: " + why + "; " + remote_problem);
  }
  std::map<uint64_t, const ObservedMember*> remote_by_id;
  if (usable_remote) {
    for (const ObservedMember& m : usable_remote->members)
      remote_by_id[m.id] = &m;
  }
  std::map<uint64_t, const ObservedMember*> local_by_id;
  if (local) {
    for (const ObservedMember& m : local->members)
      local_by_id[m.id] = &m;
  }
  MergedView view;
  view.leader_id = list->leader_id;
  if (view.leader_id == 0 && usable_remote)
    view.leader_id = usable_remote->leader_id;
  for (ObservedMember member : list->members) {
    auto here = local_by_id.find(member.id);
    auto there = remote_by_id.find(member.id);
    if (here != local_by_id.end() && here->second->local) {
      member.local = true;
      member.healthy = here->second->healthy;
      member.raft_index = here->second->raft_index;
    } else if (there != remote_by_id.end() && there->second->local) {
      member.local = false;
      member.healthy = there->second->healthy;
      member.raft_index = there->second->raft_index;
    } else {
      member.local = false;
      member.healthy = false;
      if (!member.learner) {
        view.problems.push_back("member " + std::to_string(member.ordinal) +
                                " runs on neither side's observed pods (" +
                                (usable_remote ? "no pod reports it" : remote_problem) + ")");
      }
    }
    if (member.learner) {
      ++view.learners;
    } else {
      ++view.voters;
      if (member.healthy) {
        ++view.healthy_voters;
      } else if (here != local_by_id.end() || there != remote_by_id.end()) {
        view.problems.push_back("member " + std::to_string(member.ordinal) + " is not healthy");
      }
    }
    view.members.push_back(member);
  }
  view.failure_tolerance = view.healthy_voters - (view.voters / 2 + 1);
  return view;
}

Status ReadyForStep(const FlowStep& step, const MergedView& view) {
  std::string context = "before step " + step.Name();
  if (view.leader_id == 0)
    return Error(ErrorCode::kUnavailable, context + ": the cluster reports no leader");
  if (view.healthy_voters < view.voters) {
    std::string problems;
    for (const std::string& p : view.problems)
      problems += (problems.empty() ? "" : "; ") + p;
    return Error(ErrorCode::kUnavailable, context + ": " + std::to_string(view.healthy_voters) +
                                              " of " + std::to_string(view.voters) +
                                              " voters healthy: " + problems);
  }
  return OkStatus();
}

}  // namespace seedhop::migrator
