#include "migrator/runner.h"

#include <thread>

#include "common/obs/log.h"
#include "common/time/rfc3339.h"
#include "migrator/metrics.h"
#include "migrator/safety.h"

namespace seedhop::migrator {

using nlohmann::json;

kube::ResourceRef LiveMigrations(const std::string& garden_namespace) {
  return {"seedhop.io", "v1alpha1", kLiveMigrationResource, garden_namespace};
}

Result<json> WriteSideStatus(kube::Client& garden, const std::string& garden_namespace,
                             const std::string& name, Side role, const SideStatus& status) {
  for (int attempt = 0;; ++attempt) {
    auto object = garden.Get(LiveMigrations(garden_namespace), name);
    if (!object.ok())
      return object.error();
    json& o = *object;
    if (!o.contains("status") || !o["status"].is_object())
      o["status"] = json::object();
    o["status"][SideName(role)] = ToJson(status);
    auto updated = garden.Update(LiveMigrations(garden_namespace), o, "status");
    if (updated.ok() || updated.error().code() != ErrorCode::kConflict || attempt >= 10)
      return updated;
  }
}

namespace {

double UnixSeconds(const std::string& rfc3339) {
  auto t = ParseTimestamp(rfc3339);
  return t ? std::chrono::duration<double>(t->time_since_epoch()).count() : 0;
}

const EtcdView* FindView(const SideStatus& status, const std::string& etcd) {
  for (const EtcdView& view : status.etcd) {
    if (view.etcd == etcd)
      return &view;
  }
  return nullptr;
}

bool SameObservation(const EtcdView& a, const EtcdView& b) {
  return a.etcd == b.etcd && a.after_step == b.after_step && a.leader_id == b.leader_id &&
         a.members == b.members && a.problem == b.problem;
}

// History entries for the steps of the flow stay small; the list is bounded by the flow's length
// plus resumes, halts and restarts.
constexpr size_t kMaxHistory = 400;

void AddHistory(SideStatus& status, HistoryEntry entry) {
  status.history.push_back(std::move(entry));
  if (status.history.size() > kMaxHistory)
    status.history.erase(status.history.begin());
}

// State of one RunMigration loop that does not live in the LiveMigration.
class Loop {
 public:
  Loop(const RunnerOptions& options, std::string garden_namespace, std::string name)
      : options_(options),
        ns_(std::move(garden_namespace)),
        name_(std::move(name)),
        role_(options.access.role),
        logger_(options.access.logger) {}

  Status Run(const std::atomic<bool>& stop);

 private:
  enum class Next { kContinue, kReturn };

  // One pass: returns kReturn with the status to return, or kContinue to sleep and go again.
  Next Pass(Status* result);
  void Publish(SideStatus& mine, const MigrationSpec& spec, Executor& executor, int done,
               bool* changed);
  void ExportEtcdMetrics(const MigrationSpec& spec, const SideStatus& mine,
                         const SideStatus& theirs, int done);
  bool Write(const SideStatus& status);
  void Log(const char* message, std::initializer_list<obs::Field> fields) const {
    if (logger_)
      logger_->Info(message, fields);
  }

  const RunnerOptions& options_;
  const std::string ns_;
  const std::string name_;
  const Side role_;
  obs::Logger* logger_;
  // The step this process is attempting, since when, and whether its etcd pre-check passed.
  int attempting_ = -1;
  std::chrono::steady_clock::time_point attempt_since_;
  bool prechecked_ = false;
  std::chrono::steady_clock::time_point last_publish_;
  std::string last_written_;
  etcd::Sessions etcd_sessions_;
};

bool Loop::Write(const SideStatus& status) {
  std::string serialized = ToJson(status).dump();
  if (serialized == last_written_)
    return true;
  auto written = WriteSideStatus(*options_.access.garden, ns_, name_, role_, status);
  if (!written.ok()) {
    if (logger_) {
      logger_->Warn("cannot record status",
                    {{"livemigration", ns_ + "/" + name_}, {"error", written.error().message()}});
    }
    return false;
  }
  last_written_ = std::move(serialized);
  return true;
}

void Loop::Publish(SideStatus& mine, const MigrationSpec& spec, Executor& executor, int done,
                   bool* changed) {
  auto now = std::chrono::steady_clock::now();
  bool stale = now - last_publish_ >= options_.view_refresh;
  std::vector<EtcdView> views;
  for (const EtcdSpec& etcd : spec.etcds) {
    EtcdView view = executor.Observe(etcd.name, done);
    const EtcdView* before = FindView(mine, etcd.name);
    if (before == nullptr || !SameObservation(*before, view))
      stale = true;
    views.push_back(std::move(view));
  }
  if (stale) {
    mine.etcd = std::move(views);
    last_publish_ = now;
    *changed = true;
  }
}

void Loop::ExportEtcdMetrics(const MigrationSpec& spec, const SideStatus& mine,
                             const SideStatus& theirs, int done) {
  if (options_.metrics == nullptr)
    return;
  for (const EtcdSpec& etcd : spec.etcds) {
    const EtcdView* local = FindView(mine, etcd.name);
    const EtcdView* remote = FindView(theirs, etcd.name);
    auto merged = MergeViews(local ? std::optional(*local) : std::nullopt,
                             remote ? std::optional(*remote) : std::nullopt, done,
                             std::chrono::system_clock::now(), options_.view_max_age);
    if (merged.ok()) {
      options_.metrics->SetEtcd(spec.shoot_namespace, etcd.name, merged->voters, merged->learners,
                                merged->failure_tolerance);
    }
  }
}

Loop::Next Loop::Pass(Status* result) {
  *result = OkStatus();
  if (options_.is_leader && !options_.is_leader()) {
    attempting_ = -1;
    return Next::kContinue;
  }
  std::string context = "livemigration " + ns_ + "/" + name_;
  auto object = options_.access.garden->Get(LiveMigrations(ns_), name_);
  if (!object.ok()) {
    if (object.error().code() == ErrorCode::kNotFound) {
      Log("LiveMigration is gone; stopping", {{"livemigration", ns_ + "/" + name_}});
      return Next::kReturn;
    }
    if (logger_)
      logger_->Warn("cannot read the LiveMigration", {{"error", object.error().message()}});
    return Next::kContinue;
  }
  auto spec = ParseMigrationSpec(*object);
  auto mine_parsed = ParseSideStatus(*object, role_);
  auto theirs_parsed = ParseSideStatus(*object, Other(role_));
  if (!mine_parsed.ok() || !theirs_parsed.ok()) {
    *result = (!mine_parsed.ok() ? mine_parsed.error() : theirs_parsed.error()).Wrap(context);
    return Next::kReturn;
  }
  SideStatus mine = std::move(mine_parsed).value();
  const SideStatus theirs = std::move(theirs_parsed).value();
  mine.holder = options_.identity;
  if (!spec.ok()) {
    mine.message = "invalid spec: " + spec.error().message();
    Write(mine);
    return Next::kContinue;
  }
  if (spec->Seed(role_).seed != options_.seed_name) {
    *result = Error(ErrorCode::kInvalid, context + ": spec." + SideName(role_) + ".seed is " +
                                             spec->Seed(role_).seed + ", not this seed (" +
                                             options_.seed_name + ")");
    return Next::kReturn;
  }
  auto flow = BuildFlow(*spec);
  if (!flow.ok()) {
    mine.message = "cannot plan: " + flow.error().message();
    Write(mine);
    return Next::kContinue;
  }
  std::string fingerprint = FlowFingerprint(*flow);
  const int total = static_cast<int>(flow->size());
  Executor executor(options_.access, *spec, etcd_sessions_, options_.metrics);
  int done = std::max(mine.completed_steps, theirs.completed_steps);
  bool changed = false;
  Publish(mine, *spec, executor, done, &changed);
  ExportEtcdMetrics(*spec, mine, theirs, done);

  auto report_progress = [&] {
    if (options_.metrics) {
      options_.metrics->SetProgress(spec->shoot_namespace, role_, total,
                                    std::max(mine.completed_steps, done),
                                    UnixSeconds(mine.step_started), mine.phase == Phase::kHalted);
    }
  };

  if (!mine.flow_fingerprint.empty() && mine.flow_fingerprint != fingerprint &&
      mine.phase != Phase::kDone && mine.phase != Phase::kAborted) {
    if (mine.phase != Phase::kHalted) {
      mine.phase = Phase::kHalted;
      mine.message =
          "the spec changed mid-migration: its flow differs from the one this side "
          "started (" +
          mine.flow_fingerprint + " vs " + fingerprint + "); restore the spec";
      Write(mine);
    }
    report_progress();
    return Next::kContinue;
  }
  mine.flow_fingerprint = fingerprint;

  Action action = NextAction(*flow, *spec, role_, mine, theirs);
  switch (action.kind) {
    case ActionKind::kDone:
      mine.phase = Phase::kDone;
      mine.completed_steps = total;
      mine.current_step = -1;
      mine.step_started.clear();
      mine.message = "done";
      Write(mine);
      report_progress();
      return Next::kReturn;
    case ActionKind::kAborted:
      report_progress();
      return Next::kReturn;
    case ActionKind::kAbort: {
      Status undone = executor.Abort();
      if (!undone.ok()) {
        mine.message = "abort: " + undone.error().message();
        Write(mine);
        return Next::kContinue;
      }
      std::string now = NowRfc3339();
      mine.phase = Phase::kAborted;
      mine.current_step = -1;
      mine.step_started.clear();
      mine.message =
          "aborted before the point of no return; the seed's label and EtcdPlans "
          "are removed";
      AddHistory(mine, {done, "abort", now, now, "Aborted", ""});
      Write(mine);
      report_progress();
      Log("aborted", {{"livemigration", ns_ + "/" + name_}});
      return Next::kReturn;
    }
    case ActionKind::kHalted:
      attempting_ = -1;
      if (changed)
        Write(mine);
      report_progress();
      return Next::kContinue;
    case ActionKind::kWait: {
      mine.completed_steps = std::max(mine.completed_steps, theirs.completed_steps);
      if (mine.current_step != action.step || mine.phase != Phase::kWaiting)
        mine.step_started = NowRfc3339();
      mine.phase = Phase::kWaiting;
      mine.current_step = action.step;
      mine.message = action.reason;
      Write(mine);
      report_progress();
      attempting_ = -1;
      return Next::kContinue;
    }
    case ActionKind::kExecute:
      break;
  }

  const int k = action.step;
  const FlowStep& step = (*flow)[k];
  std::string now = NowRfc3339();
  if (mine.phase == Phase::kHalted) {
    mine.observed_resume_request = spec->resume_request;
    AddHistory(mine, {k, step.Name(), now, now, "Resumed",
                      "resume request " + std::to_string(spec->resume_request)});
    attempting_ = -1;
  }
  if (mine.current_step != k || mine.phase != Phase::kRunning) {
    mine.phase = Phase::kRunning;
    mine.current_step = k;
    mine.step_started = now;
    mine.message = "running";
    mine.completed_steps = std::max(mine.completed_steps, done);
    AddHistory(mine, {k, step.Name(), now, "", "Running", ""});
    // Recorded before it runs: if this write fails, the step does not start.
    if (!Write(mine))
      return Next::kContinue;
    Log("step started",
        {{"livemigration", ns_ + "/" + name_}, {"step", std::to_string(k)}, {"name", step.Name()}});
  } else if (changed) {
    Write(mine);
  }
  report_progress();
  if (attempting_ != k) {
    attempting_ = k;
    attempt_since_ = std::chrono::steady_clock::now();
    prechecked_ = false;
  }

  Status attempt = OkStatus();
  if (step.kind == FlowKind::kEtcd && !prechecked_) {
    const EtcdView* local = FindView(mine, step.etcd);
    const EtcdView* remote = FindView(theirs, step.etcd);
    auto merged = MergeViews(local ? std::optional(*local) : std::nullopt,
                             remote ? std::optional(*remote) : std::nullopt, done,
                             std::chrono::system_clock::now(), options_.view_max_age);
    attempt = merged.ok() ? ReadyForStep(step, *merged)
                          : Status(merged.error().Wrap("before step " + step.Name()));
    prechecked_ = attempt.ok();
  }
  if (attempt.ok())
    attempt = executor.Attempt(step);

  auto elapsed = std::chrono::steady_clock::now() - attempt_since_;
  if (attempt.ok()) {
    std::string finished = NowRfc3339();
    mine.completed_steps = k + 1;
    mine.current_step = -1;
    mine.step_started.clear();
    mine.message = "completed step " + std::to_string(k) + ": " + step.Name();
    if (!mine.history.empty() && mine.history.back().step == k) {
      mine.history.back().finished = finished;
      mine.history.back().result = "Succeeded";
    }
    // Recorded after it ran; until this write lands, a restart redoes the (idempotent) step.
    while (!Write(mine)) {
      std::this_thread::sleep_for(options_.poll_interval);
      if (options_.is_leader && !options_.is_leader())
        return Next::kContinue;
    }
    if (options_.metrics)
      options_.metrics->ObserveStep(role_, step.KindName(),
                                    std::chrono::duration<double>(elapsed).count());
    Log("step completed",
        {{"livemigration", ns_ + "/" + name_}, {"step", std::to_string(k)}, {"name", step.Name()}});
    attempting_ = -1;
    report_progress();
    return Next::kContinue;
  }
  if (options_.metrics && attempt.error().code() != ErrorCode::kUnavailable)
    options_.metrics->CountError(role_, step.KindName());
  mine.message = attempt.error().message();
  if (elapsed >= std::chrono::seconds(spec->step_timeout_seconds)) {
    if (options_.metrics && attempt.error().code() == ErrorCode::kUnavailable)
      options_.metrics->CountError(role_, step.KindName());
    mine.phase = Phase::kHalted;
    mine.message = "halted after " + std::to_string(spec->step_timeout_seconds) +
                   "s: " + attempt.error().message();
    if (!mine.history.empty() && mine.history.back().step == k) {
      mine.history.back().finished = NowRfc3339();
      mine.history.back().result = "Failed";
      mine.history.back().message = attempt.error().message();
    }
    if (logger_) {
      logger_->Error("step halted", {{"livemigration", ns_ + "/" + name_},
                                     {"step", std::to_string(k)},
                                     {"error", attempt.error().message()}});
    }
  }
  Write(mine);
  report_progress();
  return Next::kContinue;
}

Status Loop::Run(const std::atomic<bool>& stop) {
  while (!stop) {
    Status result = OkStatus();
    if (Pass(&result) == Next::kReturn)
      return result;
    std::this_thread::sleep_for(options_.poll_interval);
  }
  return OkStatus();
}

}  // namespace

Status RunMigration(const RunnerOptions& options, const std::string& garden_namespace,
                    const std::string& name, const std::atomic<bool>& stop) {
  Loop loop(options, garden_namespace, name);
  return loop.Run(stop);
}

}  // namespace seedhop::migrator
