#include "migrator/checker.h"

#include <bit>
#include <limits>

namespace seedhop::migrator {

namespace {

constexpr int kSource = 0;
constexpr int kTarget = 1;

uint64_t Bit(int ordinal) {
  return uint64_t{1} << ordinal;
}
bool Has(uint64_t set, int ordinal) {
  return (set >> ordinal) & 1;
}
int Count(uint64_t set) {
  return std::popcount(set);
}
int Quorum(int voters) {
  return voters / 2 + 1;
}
int Index(Side side) {
  return side == Side::kSource ? kSource : kTarget;
}
const char* Name(int side) {
  return side == kSource ? "source" : "target";
}
bool ValidOrdinal(int ordinal) {
  return ordinal >= 0 && ordinal < kMaxOrdinals;
}

// Size of the largest set of members in `candidates` that all reach each other; `adjacent[i]`
// holds the members mutually reachable with member i.
int LargestClique(uint64_t candidates, const std::array<uint64_t, kMaxOrdinals>& adjacent) {
  bool complete = true;
  for (uint64_t c = candidates; complete && c != 0; c &= c - 1) {
    int i = std::countr_zero(c);
    complete = (candidates & ~Bit(i) & ~adjacent[i]) == 0;
  }
  if (complete)
    return Count(candidates);
  int first = std::countr_zero(candidates);
  uint64_t rest = candidates & ~Bit(first);
  int without = LargestClique(rest, adjacent);
  int with = 1 + LargestClique(rest & adjacent[first], adjacent);
  return with > without ? with : without;
}

}  // namespace

Simulation::Simulation(int n, Addressing addressing) : n_(n), addressing_(addressing) {
  result_.min_tolerance = std::numeric_limits<int>::max();
  sides_[kSource].replicas = n;
  voters_ = Bit(n) - 1;
  Evaluate(-1, "before the first step", -1, false);
}

bool Simulation::Runs(int side, int ordinal) const {
  const SideState& s = sides_[side];
  return ordinal >= s.start && ordinal < s.start + s.replicas;
}

bool Simulation::Reaches(int from_side, int from, int to) const {
  if (Has(hosts_[from], to)) {
    int other = 1 - from_side;
    bool addressed = addressing_ == Addressing::kGateway || Has(sides_[other].exposed, to);
    return Runs(other, to) && addressed;
  }
  return Runs(from_side, to);
}

void Simulation::Violate(int index, const std::string& what, const std::string& message) {
  result_.violations.push_back({{index, what}, message});
}

void Simulation::Evaluate(int index, const char* what, int restarting, bool excused) {
  auto describe = [&]() -> std::string {
    if (restarting < 0)
      return what;
    return "pod " + std::to_string(restarting) + " restarting (" +
           Name(Runs(kSource, restarting) ? kSource : kTarget) + " roll)";
  };
  const uint64_t members = voters_ | learners_;
  uint64_t running = 0;
  std::array<int, kMaxOrdinals> side_of{};
  for (int side : {kSource, kTarget}) {
    for (int o = sides_[side].start; o < sides_[side].start + sides_[side].replicas; ++o) {
      if (Has(down_, o) || !Has(members, o))
        continue;
      running |= Bit(o);
      side_of[o] = side;
    }
  }
  std::array<uint64_t, kMaxOrdinals> adjacent{};
  bool reported = false;
  for (uint64_t a = running; a != 0; a &= a - 1) {
    int i = std::countr_zero(a);
    for (uint64_t b = running & ~Bit(i); b != 0; b &= b - 1) {
      int j = std::countr_zero(b);
      if (Reaches(side_of[i], i, j)) {
        if (Reaches(side_of[j], j, i))
          adjacent[i] |= Bit(j);
      } else if (!reported) {
        reported = true;
        Violate(index, describe(),
                "member " + std::to_string(i) + " on the " + Name(side_of[i]) +
                    " cannot reach member " + std::to_string(j) + " on the " + Name(side_of[j]));
      }
    }
  }
  const int voters = Count(voters_);
  const int tolerance = LargestClique(running & voters_, adjacent) - Quorum(voters);
  if (voters > result_.max_voters)
    result_.max_voters = voters;
  if (tolerance < result_.min_tolerance) {
    result_.min_tolerance = tolerance;
    result_.min_tolerance_at = {index, describe()};
  }
  if (voters >= 3)
    ha_reached_ = true;
  const bool ha = n_ >= 3 || (ha_reached_ && sides_[kSource].replicas > 0);
  if (tolerance < 0 || (ha && tolerance < 1)) {
    if (excused && tolerance >= 0) {
      result_.routine_restart_exception.push_back({index, describe()});
    } else {
      Violate(index, describe(),
              "failure tolerance " + std::to_string(tolerance) + " (" + std::to_string(voters) +
                  " voters, quorum " + std::to_string(Quorum(voters)) + ")");
    }
  }
}

void Simulation::SetSidePlan(int index, const Step& step) {
  const int s = Index(step.side);
  const int other = 1 - s;
  const SidePlan& plan = step.plan;
  if (plan.replicas < 0 || plan.ordinals_start < 0 ||
      plan.ordinals_start + plan.replicas > kMaxOrdinals) {
    Violate(index, "malformed step", "replicas/ordinals start out of range");
    return;
  }
  uint64_t aliases = 0;
  for (int o : plan.aliased) {
    if (!ValidOrdinal(o) || Has(aliases, o)) {
      Violate(index, "malformed step", "alias ordinal out of range or repeated");
      return;
    }
    aliases |= Bit(o);
    if (addressing_ == Addressing::kPerMember && !Has(sides_[other].exposed, o)) {
      Violate(index, "set side plan",
              "alias for member " + std::to_string(o) + " before the " + Name(other) +
                  " seed has an address for it");
    }
  }
  const SideState before = sides_[s];
  SideState& now = sides_[s];
  now.start = plan.ordinals_start;
  now.replicas = plan.replicas;
  now.aliases = aliases;
  uint64_t kept = 0;
  bool range_changed = false;
  for (int o = 0; o < kMaxOrdinals; ++o) {
    bool was = o >= before.start && o < before.start + before.replicas;
    bool is = Runs(s, o);
    if (was && is)
      kept |= Bit(o);
    if (was == is)
      continue;
    range_changed = true;
    if (was) {
      hosts_[o] = 0;
      continue;
    }
    hosts_[o] = aliases;
    if (s == kTarget)
      move_started_ = true;
    if (Runs(other, o)) {
      Violate(index, "pods added/removed",
              "pod " + std::to_string(o) + " would run on both seeds at once");
    }
    if (!Has(voters_ | learners_, o)) {
      Violate(
          index, "pods added/removed",
          "pod " + std::to_string(o) + " starts before member " + std::to_string(o) + " was added");
    }
  }
  if (range_changed)
    Evaluate(index, "pods added/removed", -1, false);
  uint64_t stale = 0;
  for (uint64_t k = kept; k != 0; k &= k - 1) {
    int o = std::countr_zero(k);
    if (hosts_[o] != aliases)
      stale |= Bit(o);
  }
  if (stale == 0)
    return;
  const bool excused = n_ >= 3 && !move_started_ && !now.exception_used;
  now.exception_used = true;
  for (int o = kMaxOrdinals - 1; o >= 0; --o) {
    if (!Has(stale, o))
      continue;
    down_ |= Bit(o);
    Evaluate(index, nullptr, o, excused);
    down_ &= ~Bit(o);
    hosts_[o] = aliases;
    ++result_.restarts;
  }
}

void Simulation::Apply(int index, const Step& step) {
  const bool needs_ordinal =
      step.kind != StepKind::kSetSidePlan && step.kind != StepKind::kSwitchDns;
  if (needs_ordinal && !ValidOrdinal(step.ordinal)) {
    Violate(index, "malformed step", "ordinal " + std::to_string(step.ordinal) + " out of range");
    return;
  }
  const std::string o = std::to_string(step.ordinal);
  const uint64_t bit = needs_ordinal ? Bit(step.ordinal) : 0;
  const int previous_transfer = last_transfer_;
  last_transfer_ = -1;
  switch (step.kind) {
    case StepKind::kExposeMember:
      if (addressing_ != Addressing::kPerMember) {
        Violate(index, "expose member", "gateway addressing has no per-member addresses");
      }
      sides_[Index(step.side)].exposed |= bit;
      break;
    case StepKind::kSetSidePlan:
      SetSidePlan(index, step);
      break;
    case StepKind::kAddLearner:
      if ((voters_ | learners_) & bit)
        Violate(index, "add learner", "member " + o + " exists");
      if (learners_ != 0) {
        Violate(index, "add learner", "a second learner (etcd allows one learner at a time)");
      }
      learners_ |= bit;
      ++result_.members_added;
      break;
    case StepKind::kPromote: {
      if (!(learners_ & bit)) {
        Violate(index, "promote", "member " + o + " is not a learner");
        break;
      }
      int side = Runs(kSource, step.ordinal) ? kSource : kTarget;
      bool caught_up = Runs(side, step.ordinal);
      for (uint64_t v = voters_; caught_up && v != 0; v &= v - 1) {
        int peer = std::countr_zero(v);
        int peer_side = Runs(kSource, peer) ? kSource : kTarget;
        caught_up = Runs(peer_side, peer) && Reaches(side, step.ordinal, peer) &&
                    Reaches(peer_side, peer, step.ordinal);
      }
      if (!caught_up) {
        Violate(index, "promote",
                "learner " + o + " promoted before catching up (no pod or cut off from voters)");
      }
      learners_ &= ~bit;
      voters_ |= bit;
      break;
    }
    case StepKind::kTransferLeadership:
      if (!(voters_ & bit))
        Violate(index, "transfer leadership", "member " + o + " not a voter");
      last_transfer_ = step.ordinal;
      break;
    case StepKind::kRemoveMember:
      if (!((voters_ | learners_) & bit)) {
        Violate(index, "remove member", "member " + o + " is not a member");
      }
      if ((voters_ & bit) && previous_transfer != step.ordinal) {
        Violate(index, "remove member",
                "member " + o + " removed without moving leadership away first");
      }
      voters_ &= ~bit;
      learners_ &= ~bit;
      if (Runs(kSource, step.ordinal) || Runs(kTarget, step.ordinal))
        removed_running_ |= bit;
      move_started_ = true;
      break;
    case StepKind::kSwitchDns: {
      ++dns_switches_;
      int target_voters = 0;
      for (uint64_t v = voters_; v != 0; v &= v - 1) {
        target_voters += Runs(kTarget, std::countr_zero(v)) ? 1 : 0;
      }
      if (dns_switches_ > 1)
        Violate(index, "switch dns", "DNS switched more than once");
      if (target_voters < Quorum(Count(voters_))) {
        Violate(index, "switch dns", "DNS switched before the target holds the quorum");
      }
      if (learners_ != 0)
        Violate(index, "switch dns", "DNS switched while a member joins");
      if (sides_[kSource].replicas == 0) {
        Violate(index, "switch dns", "DNS switched after the source's last member left");
      }
      break;
    }
  }
  Evaluate(index, "after the step", -1, false);
  uint64_t pods = 0;
  for (int o = 0; o < kMaxOrdinals; ++o) {
    if (Runs(kSource, o) || Runs(kTarget, o))
      pods |= Bit(o);
  }
  removed_running_ &= pods;
  if (removed_running_ != 0 && step.kind != StepKind::kRemoveMember) {
    Violate(index, "after the step",
            "pod " + std::to_string(std::countr_zero(removed_running_)) +
                " still runs after its member was removed");
  }
  if (uint64_t lost = voters_ & ~pods; lost != 0) {
    Violate(index, "after the step",
            "voter " + std::to_string(std::countr_zero(lost)) + " has no pod");
  }
  uint64_t waiting = learners_ & ~pods;
  if (step.kind == StepKind::kAddLearner)
    waiting &= ~bit;
  if (waiting != 0) {
    Violate(index, "after the step",
            "learner " + std::to_string(std::countr_zero(waiting)) +
                " has no pod one step after its member add");
  }
  uint64_t orphans = pods & ~(voters_ | learners_ | removed_running_);
  if (orphans != 0) {
    Violate(index, "after the step",
            "pod " + std::to_string(std::countr_zero(orphans)) + " runs without being a member");
  }
}

CheckResult Simulation::Finish(int index) const {
  CheckResult out = result_;
  auto fail = [&](const std::string& message) {
    out.violations.push_back({{index, "end state"}, message});
  };
  const SideState& target = sides_[kTarget];
  if (target.start != 0 || target.replicas != n_) {
    fail("target holds ordinals " + std::to_string(target.start) + ".." +
         std::to_string(target.start + target.replicas - 1) + ", want 0.." +
         std::to_string(n_ - 1));
  }
  if (target.aliases != 0)
    fail("target still aliases peers to the source");
  if (sides_[kSource].replicas != 0)
    fail("source still has replicas");
  if (voters_ != Bit(n_) - 1 || learners_ != 0)
    fail("members are not exactly 0..n-1 voters");
  if (dns_switches_ != 1)
    fail("DNS switched " + std::to_string(dns_switches_) + " times");
  return out;
}

std::string Simulation::StateKey() const {
  std::string key;
  auto put = [&key](uint64_t value) {
    key.append(reinterpret_cast<const char*>(&value), sizeof value);
  };
  put(voters_);
  put(learners_);
  put(removed_running_);
  for (const SideState& s : sides_) {
    put(static_cast<uint64_t>(s.start) << 32 | static_cast<uint32_t>(s.replicas));
    put(s.aliases);
    put(s.exposed);
    put(s.exception_used ? 1 : 0);
  }
  for (int o = 0; o < kMaxOrdinals; ++o) {
    if (Runs(kSource, o) || Runs(kTarget, o))
      put(hosts_[o]);
  }
  put(static_cast<uint64_t>(move_started_) | static_cast<uint64_t>(ha_reached_) << 1 |
      static_cast<uint64_t>(dns_switches_) << 2 | static_cast<uint64_t>(last_transfer_ + 1) << 8);
  return key;
}

CheckResult Simulate(int n, Addressing addressing, const std::vector<Step>& steps) {
  if (n < 1 || n > kMaxOrdinals) {
    CheckResult bad;
    bad.violations.push_back(
        {{-1, "before the first step"}, "steady size " + std::to_string(n) + " out of range"});
    return bad;
  }
  Simulation simulation(n, addressing);
  for (size_t i = 0; i < steps.size(); ++i)
    simulation.Apply(static_cast<int>(i), steps[i]);
  return simulation.Finish(static_cast<int>(steps.size()));
}

}  // namespace seedhop::migrator
