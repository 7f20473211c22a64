#include "test/lab/traffic.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "common/io/file.h"
#include "migrator/safety.h"

namespace seedhop::lab {

namespace {

using Clock = std::chrono::steady_clock;

// Most answers come within this; the writer retries elsewhere after it.
http::ClientOptions FastOptions() {
  http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(500);
  options.request_timeout = std::chrono::milliseconds(2000);
  return options;
}

// A member that has not answered within FastOptions is asked again with this much patience
// before it counts as down: on a busy machine a live member can be seconds slow, while a dead one
// refuses the connection at once (loopback) and a cut-off one still answers, without a leader.
http::ClientOptions PatientOptions() {
  http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.request_timeout = std::chrono::milliseconds(10000);
  return options;
}

}  // namespace

Sampler::Sampler(std::string etcd, PodDirectory pods, std::chrono::milliseconds interval)
    : etcd_(std::move(etcd)), pods_(std::move(pods)), interval_(interval) {}

Sampler::~Sampler() {
  Stop();
}

void Sampler::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      auto next = Clock::now() + interval_;
      Sample sample = Take();
      {
        std::lock_guard lock(mutex_);
        samples_.push_back(sample);
      }
      std::this_thread::sleep_until(next);
    }
  });
}

void Sampler::Stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
}

std::vector<Sample> Sampler::Samples() const {
  std::lock_guard lock(mutex_);
  return samples_;
}

std::string Sampler::LeaderUrl() const {
  std::lock_guard lock(mutex_);
  return leader_url_;
}

Sample Sampler::Take() {
  Sample sample;
  sample.at = Clock::now();
  std::map<int, std::string> pods = pods_();
  if (pods.empty())
    return sample;
  std::shared_ptr<etcd::Session> session = sessions_.For(etcd_, pods, FastOptions());
  etcd::Client& client = session->client();
  auto status_of = [&](const std::string& url) {
    Result<etcd::EndpointStatus> status = client.Status(url);
    if (!status.ok() && status.error().code() == ErrorCode::kTimeout)
      status = etcd::Client({url}, PatientOptions()).Status(url);
    return status;
  };
  // A consistent snapshot: the member list must be the same before and after asking each member,
  // or a member removed in between would count as a failed voter.
  std::vector<etcd::MemberHealth> assessed;
  bool consistent = false;
  for (int attempt = 0; attempt < 3 && !consistent; ++attempt) {
    auto before = client.MemberList();
    if (!before.ok())
      return sample;
    assessed.clear();
    for (const etcd::Member& member : *before) {
      int ordinal = migrator::MemberOrdinal(etcd_, member.name,
                                            member.peer_urls.empty() ? "" : member.peer_urls[0]);
      auto pod = pods.find(ordinal);
      Result<etcd::EndpointStatus> status =
          pod == pods.end() ? Result<etcd::EndpointStatus>(
                                  Error(ErrorCode::kUnavailable, "no pod for this member"))
                            : status_of(pod->second);
      assessed.push_back(etcd::AssessMember(member, status));
    }
    auto after = client.MemberList();
    consistent = after.ok() && after->size() == before->size() &&
                 std::equal(after->begin(), after->end(), before->begin(),
                            [](const etcd::Member& a, const etcd::Member& b) {
                              return a.id == b.id && a.is_learner == b.is_learner;
                            });
  }
  if (!consistent)
    return sample;
  etcd::ClusterHealth health = etcd::SummarizeHealth(std::move(assessed));
  sample.known = true;
  sample.voters = health.voters;
  sample.learners = health.learners;
  // A voter is up when it answers for itself with no alarm and knows a leader, or has known one
  // within the last kLeaderlessSamples samples: a leadership transfer leaves followers without a
  // leader for milliseconds, a member cut off from the quorum (or a cluster without one) for as
  // long as that lasts. etcd reports a missing leader as an error of its own, not an alarm.
  constexpr char kNoLeader[] = "etcdserver: no leader";
  for (const etcd::MemberHealth& m : health.members) {
    if (m.member.is_learner || !m.status || m.status->member_id != m.member.id)
      continue;
    bool alarm = std::any_of(m.status->errors.begin(), m.status->errors.end(),
                             [&](const std::string& e) { return e != kNoLeader; });
    if (alarm)
      continue;
    int& streak = leaderless_streak_[m.member.id];
    streak = m.status->leader_id == 0 ? streak + 1 : 0;
    if (streak < kLeaderlessSamples) {
      ++sample.healthy_voters;
    } else if (health.leader_id != 0) {
      ++sample.isolated_voters;
    }
  }
  sample.leader_id = health.leader_id;
  sample.failure_tolerance = sample.healthy_voters - (sample.voters / 2 + 1);
  for (const etcd::MemberHealth& m : health.members) {
    if (m.member.id != health.leader_id)
      continue;
    int ordinal = migrator::MemberOrdinal(etcd_, m.member.name,
                                          m.member.peer_urls.empty() ? "" : m.member.peer_urls[0]);
    auto pod = pods.find(ordinal);
    std::lock_guard lock(mutex_);
    leader_url_ = pod == pods.end() ? "" : pod->second;
  }
  return sample;
}

Writer::Writer(PodDirectory pods, LeaderDirectory leader, int rate,
               std::chrono::milliseconds give_up)
    : pods_(std::move(pods)), leader_(std::move(leader)), rate_(rate), give_up_(give_up) {}

Writer::~Writer() {
  Stop();
}

namespace {

// True when `error` is a member refusing a write at once because leadership is changing hands
// (raft's ErrProposalDropped while a transfer is under way, etcd's ErrLeaderChanged). The member
// is alive and will take the write again in a moment, itself or by forwarding it. Another member
// would forward the retry to the leader that is handing over, which drops it without an answer
// (raft stepLeader, leadTransferee != None): the client then waits for its timeout.
bool RefusedDuringHandOver(const Error& error) {
  const std::string& message = error.message();
  return message.find("raft proposal dropped") != std::string::npos ||
         message.find("leader changed") != std::string::npos;
}

}  // namespace

bool Writer::WriteOne(Clients& clients, WriteRecord& record) {
  std::string key = "/seedhop-lab/" + std::to_string(record.key);
  std::string value = "value-" + std::to_string(record.key);
  // From when it is sent: a write held back behind a slow one still gets its full chance.
  auto deadline = Clock::now() + give_up_;
  std::string attempts;  // what each attempt met, kept only for a slow write
  auto Ms = [](Clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  std::string failed;  // the member the last attempt could not reach or timed out on
  while (Clock::now() < deadline && !stop_) {
    // The leader the sampler names, unless the write just failed there: then the pods in turn.
    // A leader that refused during a hand-over is asked again (the sampler names its successor
    // within 50 ms), not a follower, which would forward the write into the hand-over.
    std::string url = leader_ ? leader_() : "";
    if (url.empty() || url == failed) {
      std::map<int, std::string> pods = pods_();
      if (pods.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      // Each write starts its round at a pod of its own, so that writers that lost the same
      // leader do not all wait on the same pod.
      auto it = pods.begin();
      std::advance(it, static_cast<size_t>(record.key + record.attempts) % pods.size());
      if (it->second == failed && pods.size() > 1 && ++it == pods.end())
        it = pods.begin();
      url = it->second;
    }
    ++record.attempts;
    auto& client = clients[url];
    if (!client)
      client = std::make_unique<etcd::Client>(std::vector<std::string>{url}, FastOptions());
    const auto sent = Clock::now();
    Result<int64_t> put = client->Put(key, value);
    const auto now = Clock::now();
    // A write that succeeds at once, nearly all of them, is never reported: no text for it.
    if (!put.ok() || now - record.started >= kSlowWrite) {
      attempts += "; " + url + " " + Ms(now - sent) +
                  " ms: " + (put.ok() ? std::string("ok") : put.error().message());
    }
    if (put.ok()) {
      record.acknowledged = true;
      record.latency = std::chrono::duration_cast<std::chrono::microseconds>(now - record.started);
      break;
    }
    failed = RefusedDuringHandOver(put.error()) ? "" : url;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (Clock::now() - record.started >= kSlowWrite) {
    std::lock_guard lock(mutex_);
    if (slow_writes_.size() < 10) {
      slow_writes_.push_back(key + " took " + Ms(Clock::now() - record.started) + " ms, " +
                             std::to_string(record.attempts) + " attempts" + attempts);
    }
  }
  return record.acknowledged;
}

void Writer::WriteLoop(int worker, int workers) {
  Clients clients;
  auto period = std::chrono::microseconds(1000000LL * workers / std::max(rate_, 1));
  // Workers start a fraction of a period apart, so that together they write evenly.
  auto next = Clock::now() + period * worker / workers;
  std::this_thread::sleep_until(next);
  for (int64_t n = worker; !stop_; n += workers) {
    WriteRecord record;
    record.key = n;
    record.started = next;
    WriteOne(clients, record);
    {
      std::lock_guard lock(mutex_);
      records_.push_back(record);
    }
    // A steady rate: a slow write delays this worker's next ones, which then go out back to
    // back, as a client's queue would drain; each still counts its latency from when it was due.
    next += period;
    std::this_thread::sleep_until(next);
  }
}

void Writer::Start() {
  const int workers = std::clamp(rate_ / kWritesPerWriter, kMinWriters, kMaxWriters);
  for (int worker = 0; worker < workers; ++worker)
    threads_.emplace_back([this, worker, workers] { WriteLoop(worker, workers); });
}

void Writer::Stop() {
  stop_ = true;
  for (std::thread& thread : threads_) {
    if (thread.joinable())
      thread.join();
  }
}

std::vector<WriteRecord> Writer::Records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::vector<std::string> Writer::SlowWrites() const {
  std::lock_guard lock(mutex_);
  return slow_writes_;
}

VerifyResult Writer::Verify() {
  VerifyResult result;
  std::map<int, std::string> pods = pods_();
  std::vector<std::string> urls;
  for (const auto& [ordinal, url] : pods)
    urls.push_back(url);
  if (urls.empty())
    return result;
  etcd::Client client(urls, FastOptions());
  std::vector<WriteRecord> records = Records();
  int unanswered_in_a_row = 0;
  for (const WriteRecord& record : records) {
    if (!record.acknowledged)
      continue;
    // A cluster that stopped answering cannot say whether a write survived: the rest stays
    // unverified rather than counted as lost (or taking hours of timeouts).
    if (unanswered_in_a_row >= 3) {
      ++result.unverified;
      continue;
    }
    const int64_t n = record.key;
    std::string key = "/seedhop-lab/" + std::to_string(n);
    Result<std::optional<std::string>> value = client.Get(key);
    for (int retry = 0; retry < 5 && !value.ok(); ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      value = client.Get(key);
    }
    if (!value.ok()) {
      ++unanswered_in_a_row;
      ++result.unverified;
      continue;
    }
    unanswered_in_a_row = 0;
    ++result.checked;
    if (!value->has_value() || **value != "value-" + std::to_string(n)) {
      ++result.lost;
      if (result.lost_keys.size() < 10)
        result.lost_keys.push_back(key);
    }
  }
  return result;
}

namespace {

// Whether a window's figures count `r`: acknowledged, and started in [from, to).
bool Counted(const WriteRecord& r, Clock::time_point from, Clock::time_point to) {
  return r.acknowledged && r.started >= from && r.started < to;
}

double LatencyMs(const WriteRecord& r) {
  return std::chrono::duration<double, std::milli>(r.latency).count();
}

// Whether one of `times` lies in [at - before, at + after].
bool AnyNear(const std::vector<Clock::time_point>& times, Clock::time_point at,
             std::chrono::milliseconds before, std::chrono::milliseconds after) {
  return std::any_of(times.begin(), times.end(),
                     [&](Clock::time_point t) { return t >= at - before && t <= at + after; });
}

// The latencies of the acknowledged writes started in [from, to), in ms, in record order.
std::vector<double> LatenciesMs(const std::vector<WriteRecord>& records, Clock::time_point from,
                                Clock::time_point to) {
  std::vector<double> latencies;
  for (const WriteRecord& r : records) {
    if (Counted(r, from, to))
      latencies.push_back(LatencyMs(r));
  }
  return latencies;
}

}  // namespace

double LatencyPercentileMs(const std::vector<WriteRecord>& records, double p,
                           Clock::time_point from, Clock::time_point to) {
  std::vector<double> latencies = LatenciesMs(records, from, to);
  if (latencies.empty())
    return 0;
  std::sort(latencies.begin(), latencies.end());
  size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(latencies.size() - 1) + 0.5);
  return latencies[std::min(index, latencies.size() - 1)];
}

WriteCount CountWrites(const std::vector<WriteRecord>& records, double threshold_ms,
                       Clock::time_point from, Clock::time_point to) {
  WriteCount count;
  for (double ms : LatenciesMs(records, from, to)) {
    ++count.acknowledged;
    count.slower += ms > threshold_ms;
  }
  return count;
}

std::vector<SlowBurst> FindSlowBursts(const std::vector<WriteRecord>& records, double threshold_ms,
                                      std::chrono::milliseconds gap, Clock::time_point from,
                                      Clock::time_point to) {
  std::vector<const WriteRecord*> slow;
  for (const WriteRecord& r : records) {
    if (Counted(r, from, to) && LatencyMs(r) > threshold_ms)
      slow.push_back(&r);
  }
  // Records are kept as writes complete, across writer threads: put them back in order of due.
  std::sort(slow.begin(), slow.end(),
            [](const WriteRecord* a, const WriteRecord* b) { return a->started < b->started; });
  std::vector<SlowBurst> bursts;
  Clock::time_point previous;
  for (const WriteRecord* r : slow) {
    if (bursts.empty() || r->started - previous > gap)
      bursts.push_back({r->started, r->started, 0});
    SlowBurst& burst = bursts.back();
    ++burst.writes;
    burst.ended = std::max(burst.ended, r->started + r->latency);
    previous = r->started;
  }
  return bursts;
}

BurstCause CauseOf(const SlowBurst& burst, const MoveEvents& events) {
  using std::chrono::milliseconds;
  if (AnyNear(events.etcd_starts, burst.began, milliseconds(400), milliseconds(0)))
    return BurstCause::kEtcdStarted;
  if (AnyNear(events.membership_changes, burst.began, milliseconds(150), milliseconds(350)))
    return BurstCause::kMembershipChanged;
  if (AnyNear(events.leader_changes, burst.began, milliseconds(300), milliseconds(100)))
    return BurstCause::kLeaderChanged;
  return BurstCause::kNone;
}

const char* BurstCauseName(BurstCause cause) {
  switch (cause) {
    case BurstCause::kEtcdStarted:
      return "etcdStarted";
    case BurstCause::kMembershipChanged:
      return "membershipChanged";
    case BurstCause::kLeaderChanged:
      return "leaderChanged";
    case BurstCause::kNone:
      return "none";
  }
  return "none";
}

Stall LongestStall(const std::vector<WriteRecord>& records, Clock::time_point from,
                   Clock::time_point to) {
  std::vector<Clock::time_point> completions;
  for (const WriteRecord& r : records) {
    if (!r.acknowledged)
      continue;
    Clock::time_point done = r.started + r.latency;
    if (done >= from && done < to)
      completions.push_back(done);
  }
  std::sort(completions.begin(), completions.end());
  Stall longest{0, from};
  Clock::time_point previous = from;
  for (Clock::time_point done : completions) {
    double ms = std::chrono::duration<double, std::milli>(done - previous).count();
    if (ms > longest.ms)
      longest = {ms, previous};
    previous = done;
  }
  return longest;
}

Result<CpuTimes> ParseProcStat(std::string_view text) {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already
  // in user (proc(5)), so the first eight numbers are all of it.
  constexpr std::string_view kPrefix = "cpu ";
  if (!text.starts_with(kPrefix))
    return Error(ErrorCode::kInvalid, "/proc/stat: no aggregate cpu line first");
  std::string_view rest = text.substr(kPrefix.size(), text.find('\n') - kPrefix.size());
  std::array<uint64_t, 8> fields{};
  for (uint64_t& field : fields) {
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), field);
    if (ec != std::errc())
      return Error(ErrorCode::kInvalid, "/proc/stat: the cpu line has fewer than 8 numbers");
    rest.remove_prefix(static_cast<size_t>(end - rest.data()));
  }
  const auto [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  CpuTimes times;
  times.busy = user + nice + system + irq + softirq + steal;
  times.total = times.busy + idle + iowait;
  return times;
}

CpuTimes ReadMachineCpu() {
  auto text = ReadFile("/proc/stat");
  if (!text.ok())
    return {};
  auto times = ParseProcStat(*text);
  return times.ok() ? *times : CpuTimes{};
}

double BusyPercent(const CpuTimes& from, const CpuTimes& to) {
  if (to.total <= from.total || to.busy < from.busy)
    return 0;
  return 100.0 * static_cast<double>(to.busy - from.busy) /
         static_cast<double>(to.total - from.total);
}

}  // namespace seedhop::lab
