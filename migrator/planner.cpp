#include "migrator/planner.h"

#include <algorithm>
#include <numeric>

namespace seedhop::migrator {

bool RollsPods(const SidePlan& before, const SidePlan& after) {
  return before.aliased != after.aliased && before.replicas > 0 && after.replicas > 0;
}

const char* StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kExposeMember:
      return "expose-member";
    case StepKind::kSetSidePlan:
      return "set-side-plan";
    case StepKind::kAddLearner:
      return "add-learner";
    case StepKind::kPromote:
      return "promote";
    case StepKind::kTransferLeadership:
      return "transfer-leadership";
    case StepKind::kRemoveMember:
      return "remove-member";
    case StepKind::kSwitchDns:
      return "switch-dns";
  }
  return "unknown";
}

const char* SideName(Side side) {
  return side == Side::kSource ? "source" : "target";
}

Side Other(Side side) {
  return side == Side::kSource ? Side::kTarget : Side::kSource;
}

namespace {

std::vector<int> Range(int first, int end) {
  std::vector<int> out(end > first ? end - first : 0);
  std::iota(out.begin(), out.end(), first);
  return out;
}

std::string Ordinals(const std::vector<int>& ordinals) {
  if (ordinals.empty())
    return "none";
  std::string out;
  for (int o : ordinals)
    out += (out.empty() ? "" : ",") + std::to_string(o);
  return out;
}

// Appends steps while keeping track of what each side's EtcdPlan currently says, so that every
// SetSidePlan step can describe what changes.
class Builder {
 public:
  explicit Builder(Addressing addressing, int n) : addressing_(addressing) {
    plans_[0] = SidePlan{n, 0, {}};
  }

  std::vector<Step> Take() { return std::move(steps_); }

  void Expose(Side side, const std::vector<int>& ordinals) {
    if (addressing_ != Addressing::kPerMember)
      return;
    for (int o : ordinals) {
      Push({StepKind::kExposeMember,
            side,
            o,
            {},
            "create the " + std::string(SideName(side)) + " seed's LoadBalancer for member " +
                std::to_string(o),
            "its address is allocated and recorded in the LiveMigration"});
    }
  }

  void SetPlan(Side side, int replicas, int start, std::vector<int> aliased,
               std::string precondition) {
    SidePlan& current = plans_[Index(side)];
    SidePlan next{replicas, replicas == 0 ? 0 : start, std::move(aliased)};
    std::string what = std::string(SideName(side)) + " StatefulSet: ordinals " +
                       Ordinals(Range(next.ordinals_start, next.ordinals_start + next.replicas)) +
                       ", aliases to the other seed: " + Ordinals(next.aliased);
    if (RollsPods(current, next)) {
      what += " (rolls the " + std::string(SideName(side)) + "'s running pods one at a time)";
    }
    current = next;
    Push({StepKind::kSetSidePlan, side, -1, current, what, std::move(precondition)});
  }

  // Member `ordinal` joins on `side`: learner, pod, promotion.
  void Join(Side side, int ordinal, int replicas, int start, const std::vector<int>& aliased) {
    std::string o = std::to_string(ordinal);
    Push({StepKind::kAddLearner,
          side,
          ordinal,
          {},
          "etcd member add --learner " + o,
          "member list shows " + o + " as the only learner"});
    SetPlan(side, replicas, start, aliased,
            "pod " + o + " is running and learner " + o + " has caught up with the leader");
    Push({StepKind::kPromote,
          side,
          ordinal,
          {},
          "etcd member promote " + o,
          "member " + o + " is a healthy voter; every voter is healthy"});
  }

  // Member `ordinal` leaves `side`: leadership away, member remove, pod deleted.
  void Leave(Side side, int ordinal, int replicas, int start, const std::vector<int>& aliased) {
    std::string o = std::to_string(ordinal);
    Push({StepKind::kTransferLeadership,
          side,
          ordinal,
          {},
          "move etcd leadership away from member " + o + " if it leads",
          "member " + o + " is not the leader"});
    Push({StepKind::kRemoveMember,
          side,
          ordinal,
          {},
          "etcd member remove " + o,
          "member list no longer shows " + o});
    SetPlan(side, replicas, start, aliased, "pod " + o + " is gone; every voter is healthy");
  }

  void SwitchDns() {
    Push({StepKind::kSwitchDns,
          Side::kTarget,
          -1,
          {},
          "point the shoot's DNSRecords at the target seed's ingress",
          "the records resolve to the target for longer than their TTL"});
  }

 private:
  static int Index(Side side) { return side == Side::kSource ? 0 : 1; }
  void Push(Step step) { steps_.push_back(std::move(step)); }

  Addressing addressing_;
  SidePlan plans_[2];
  std::vector<Step> steps_;
};

std::vector<Step> PlanSafe(int n, Addressing addressing) {
  const int m = std::max(n, 3);  // the size that moves: n=1 grows to 3 first, shrinks at the end
  const int w = std::max(m, kRollWidth);
  const std::vector<int> final_names = Range(0, m);
  const std::vector<int> crossing = Range(w, m + w);  // the source's names when the target starts
  Builder b(addressing, n);
  for (int o = n; o < m; ++o)
    b.Join(Side::kSource, o, o + 1, 0, {});
  // 1. Slide the source up to ordinals m..m+W-1, local names only. Removing the last of 0..m-1
  //    carries the source's one roll, at W voters: from then on its pods resolve 0..m-1, the names
  //    the target will take, to the target.
  b.Expose(Side::kTarget, final_names);
  int lo = 0;
  int hi = m;
  for (int i = 0; i < w; ++i) {
    ++hi;
    b.Join(Side::kSource, m + i, hi - lo, lo, {});
    if (i < m - 1) {
      ++lo;
      b.Leave(Side::kSource, i, hi - lo, lo, {});
    }
  }
  b.Leave(Side::kSource, m - 1, hi - m, m, final_names);
  // 2. Shrink the source to its top m members: the target's pods alias exactly those, so the
  //    names below them are free for the target once the source is gone.
  for (int o = m; o < w; ++o)
    b.Leave(Side::kSource, o, m + w - o - 1, o + 1, final_names);
  // 3. Cross over: the target takes m-1 .. 0 (its pods alias the source's names W..W+m-1), the
  //    source's lowest member leaves after each; the DNS switch once the target holds the quorum.
  b.Expose(Side::kSource, crossing);
  bool switched = false;
  for (int i = 0; i < m; ++i) {
    b.Join(Side::kTarget, m - 1 - i, i + 1, m - 1 - i, crossing);
    b.Leave(Side::kSource, w + i, m - i - 1, w + i + 1, final_names);
    if (!switched && i + 1 >= m / 2 + 1 && m - i - 1 > 0) {
      b.SwitchDns();
      switched = true;
    }
  }
  // 4. With the source gone, grow the target to W (names m..W-1, which its pods never alias),
  //    roll it once at W voters to drop every alias, and shrink it to n. A non-HA shoot is past
  //    its HA window once the source is empty, so it rolls at 3 voters (tolerance 0, no outage).
  const int roll_at = n >= 3 ? w : m;
  for (int o = m; o < roll_at; ++o)
    b.Join(Side::kTarget, o, o + 1, 0, crossing);
  b.SetPlan(Side::kTarget, roll_at, 0, {}, "every target pod restarted; every voter healthy");
  for (int o = roll_at - 1; o >= n; --o)
    b.Leave(Side::kTarget, o, o, 0, {});
  return b.Take();
}

std::vector<Step> PlanSwap(int n, Addressing addressing) {
  const int size = std::max(n, 3);  // the hackathon's order needs an HA cluster to start from
  const int quorum = size / 2 + 1;
  Builder b(addressing, n);
  for (int o = n; o < size; ++o)
    b.Join(Side::kSource, o, o + 1, 0, {});
  b.Expose(Side::kSource, Range(0, size));
  for (int m = size - 1; m >= 0; --m) {
    b.Expose(Side::kTarget, {m});
    b.Leave(Side::kSource, m, m, 0, Range(m, size));
    b.Join(Side::kTarget, m, size - m, m, Range(0, m));
    if (size - m == quorum)
      b.SwitchDns();
  }
  for (int o = size - 1; o >= n; --o)
    b.Leave(Side::kTarget, o, o, 0, {});
  return b.Take();
}

}  // namespace

Result<std::vector<Step>> PlanMove(int n, Strategy strategy, Addressing addressing) {
  if (n != 1 && n != 3 && n != 5) {
    return Error(ErrorCode::kInvalid,
                 "plan etcd move: steady size " + std::to_string(n) + " is not 1, 3 or 5");
  }
  return strategy == Strategy::kSafe ? PlanSafe(n, addressing) : PlanSwap(n, addressing);
}

}  // namespace seedhop::migrator
