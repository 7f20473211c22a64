#include "test/lab/traffic.h"

#include <algorithm>

#include "migrator/safety.h"

namespace seedhop::lab {

namespace {

using Clock = std::chrono::steady_clock;

// A member that takes longer than this to answer counts as failed: long enough that a busy
// machine does not make a slow member look dead, short enough to see a real outage.
http::ClientOptions FastOptions() {
  http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(500);
  options.request_timeout = std::chrono::milliseconds(2000);
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
  std::vector<std::string> urls;
  for (const auto& [ordinal, url] : pods)
    urls.push_back(url);
  etcd::Client client(urls, FastOptions());
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
                            : client.Status(pod->second);
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
  // A voter counts as up when it answers for itself with no alarm, leader or not: an election in
  // progress (after the leader's pod restarts) is a write stall, which the writer measures, not a
  // failed member.
  for (const etcd::MemberHealth& m : health.members) {
    sample.healthy_voters += !m.member.is_learner && m.status && m.status->errors.empty() &&
                             m.status->member_id == m.member.id;
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

Writer::Writer(PodDirectory pods, const Sampler* sampler, int rate,
               std::chrono::milliseconds give_up)
    : pods_(std::move(pods)), sampler_(sampler), rate_(rate), give_up_(give_up) {}

Writer::~Writer() {
  Stop();
}

etcd::Client& Writer::ClientFor(const std::string& url) {
  auto& client = clients_[url];
  if (!client)
    client = std::make_unique<etcd::Client>(std::vector<std::string>{url}, FastOptions());
  return *client;
}

bool Writer::WriteOne(int64_t n, WriteRecord& record) {
  std::string key = "/seedhop-lab/" + std::to_string(n);
  std::string value = "value-" + std::to_string(n);
  auto deadline = record.started + give_up_;
  size_t attempt = 0;
  while (Clock::now() < deadline && !stop_) {
    std::string url = sampler_ ? sampler_->LeaderUrl() : "";
    if (url.empty() || attempt > 0) {
      // No leader known, or the leader failed us: try the pods in turn.
      std::map<int, std::string> pods = pods_();
      if (pods.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      auto it = pods.begin();
      std::advance(it, attempt % pods.size());
      url = it->second;
    }
    ++attempt;
    if (ClientFor(url).Put(key, value).ok()) {
      record.acknowledged = true;
      record.latency =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - record.started);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void Writer::Start() {
  thread_ = std::thread([this] {
    auto period = std::chrono::microseconds(1000000 / std::max(rate_, 1));
    auto next = Clock::now();
    for (int64_t n = 0; !stop_; ++n) {
      WriteRecord record;
      record.started = Clock::now();
      WriteOne(n, record);
      {
        std::lock_guard lock(mutex_);
        records_.push_back(record);
      }
      // A steady rate: a slow write delays the next ones, which then go out back to back, as a
      // client's queue would drain.
      next += period;
      std::this_thread::sleep_until(next);
    }
  });
}

void Writer::Stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
}

std::vector<WriteRecord> Writer::Records() const {
  std::lock_guard lock(mutex_);
  return records_;
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
  for (size_t n = 0; n < records.size(); ++n) {
    if (!records[n].acknowledged)
      continue;
    ++result.checked;
    std::string key = "/seedhop-lab/" + std::to_string(n);
    Result<std::optional<std::string>> value = client.Get(key);
    for (int retry = 0; retry < 5 && !value.ok(); ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      value = client.Get(key);
    }
    if (!value.ok() || !value->has_value() || **value != "value-" + std::to_string(n)) {
      ++result.lost;
      if (result.lost_keys.size() < 10)
        result.lost_keys.push_back(key);
    }
  }
  return result;
}

double LatencyPercentileMs(const std::vector<WriteRecord>& records, double p,
                           Clock::time_point from, Clock::time_point to) {
  std::vector<double> latencies;
  for (const WriteRecord& r : records) {
    if (r.acknowledged && r.started >= from && r.started < to)
      latencies.push_back(std::chrono::duration<double, std::milli>(r.latency).count());
  }
  if (latencies.empty())
    return 0;
  std::sort(latencies.begin(), latencies.end());
  size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(latencies.size() - 1) + 0.5);
  return latencies[std::min(index, latencies.size() - 1)];
}

double LongestStallMs(const std::vector<WriteRecord>& records, Clock::time_point from,
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
  double longest = 0;
  Clock::time_point previous = from;
  for (Clock::time_point done : completions) {
    longest = std::max(longest, std::chrono::duration<double, std::milli>(done - previous).count());
    previous = done;
  }
  return longest;
}

}  // namespace seedhop::lab
