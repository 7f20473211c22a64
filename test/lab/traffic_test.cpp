// The lab's write-trace figures over hand-made traces: the longest stall and where it began,
// latency percentiles within a window, and bursts of slow writes and what they followed; and the
// writer's record of a slow write and of the writes held back behind it, against real etcd.
#include "test/lab/traffic.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <thread>
#include <tuple>
#include <utility>

#include "test/support/etcd_cluster.h"

namespace seedhop::lab {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const Clock::time_point kZero{};

// A write started at `start_ms` and acknowledged `latency_ms` later (or never).
WriteRecord Write(int64_t start_ms, int64_t latency_ms, bool acknowledged = true) {
  WriteRecord record;
  record.started = kZero + milliseconds(start_ms);
  record.latency = milliseconds(latency_ms);
  record.acknowledged = acknowledged;
  return record;
}

TEST(LongestStall, IsTheWidestGapBetweenCompletionsAndSaysWhereItBegan) {
  // Completions at 10, 20, 320 (a write waiting 300 ms), 330 ms.
  std::vector<WriteRecord> records = {Write(0, 10), Write(10, 10), Write(20, 300), Write(320, 10)};
  Stall stall = LongestStall(records, kZero, kZero + milliseconds(1000));
  EXPECT_DOUBLE_EQ(stall.ms, 300);
  EXPECT_EQ(stall.began, kZero + milliseconds(20));
}

TEST(LongestStall, UnacknowledgedWritesDoNotEndAStall) {
  std::vector<WriteRecord> records = {Write(0, 10), Write(20, 5, false), Write(400, 10)};
  Stall stall = LongestStall(records, kZero, kZero + milliseconds(1000));
  EXPECT_DOUBLE_EQ(stall.ms, 400);
  EXPECT_EQ(stall.began, kZero + milliseconds(10));
}

TEST(LongestStall, CountsFromTheWindowStartAndIgnoresCompletionsOutsideIt) {
  // The window is [100, 500): the first completion inside it is at 250, the one at 600 is out.
  std::vector<WriteRecord> records = {Write(0, 50), Write(200, 50), Write(260, 10), Write(590, 10)};
  Stall stall = LongestStall(records, kZero + milliseconds(100), kZero + milliseconds(500));
  EXPECT_DOUBLE_EQ(stall.ms, 150);
  EXPECT_EQ(stall.began, kZero + milliseconds(100));
}

TEST(LatencyPercentile, TakesOnlyAcknowledgedWritesStartedInTheWindow) {
  std::vector<WriteRecord> records;
  for (int i = 1; i <= 100; ++i)
    records.push_back(Write(100 + i, i));
  records.push_back(Write(50, 5000));          // before the window
  records.push_back(Write(150, 9000, false));  // never acknowledged
  const Clock::time_point from = kZero + milliseconds(100);
  const Clock::time_point to = kZero + milliseconds(300);
  EXPECT_DOUBLE_EQ(LatencyPercentileMs(records, 99, from, to), 99);
  EXPECT_DOUBLE_EQ(LatencyPercentileMs(records, 50, from, to), 51);  // nearest rank
  EXPECT_DOUBLE_EQ(LatencyPercentileMs({}, 99, from, to), 0);
}

TEST(CountWrites, CountsAcknowledgedWritesStartedInTheWindowAndThoseAboveTheThreshold) {
  // The window is [100, 300): of the writes started in it, 30 ms and 40 ms are over 20 ms; 20 ms
  // itself is not, and neither are the slow writes outside the window or never acknowledged.
  std::vector<WriteRecord> records = {Write(50, 500), Write(110, 10),         Write(120, 20),
                                      Write(130, 30), Write(140, 900, false), Write(150, 40),
                                      Write(300, 700)};
  const Clock::time_point from = kZero + milliseconds(100);
  const Clock::time_point to = kZero + milliseconds(300);
  const WriteCount over_20 = CountWrites(records, 20, from, to);
  EXPECT_EQ(over_20.acknowledged, 4);
  EXPECT_EQ(over_20.slower, 2);
  EXPECT_EQ(CountWrites(records, 40, from, to).slower, 0);
  const WriteCount none = CountWrites({}, 20, from, to);
  EXPECT_EQ(none.acknowledged, 0);
  EXPECT_EQ(none.slower, 0);
}

TEST(FindSlowBursts, JoinsSlowWritesDueWithinTheGapAndEndsEachAtItsLastAck) {
  // Slow (over 20 ms) in [0, 1000): 100 and 150 (recorded out of order), one burst to 250 ms;
  // 400 alone; 520 and 600, 80 ms apart, one burst to 621 ms. 520 is 120 ms after 400: a new
  // burst. The fast write at 120 ms, the unacknowledged one and the one after the window do not
  // count.
  std::vector<WriteRecord> records = {Write(150, 30),        Write(100, 150), Write(120, 10),
                                      Write(300, 90, false), Write(400, 25),  Write(520, 25),
                                      Write(600, 21),        Write(1200, 900)};
  const std::vector<SlowBurst> bursts =
      FindSlowBursts(records, 20, milliseconds(100), kZero, kZero + milliseconds(1000));
  ASSERT_EQ(bursts.size(), 3u);
  const std::tuple<int, int, int64_t> expected[] = {{100, 250, 2}, {400, 425, 1}, {520, 621, 2}};
  for (size_t i = 0; i < bursts.size(); ++i) {
    const auto& [began, ended, writes] = expected[i];
    EXPECT_EQ(bursts[i].began, kZero + milliseconds(began)) << "burst " << i;
    EXPECT_EQ(bursts[i].ended, kZero + milliseconds(ended)) << "burst " << i;
    EXPECT_EQ(bursts[i].writes, writes) << "burst " << i;
  }
  EXPECT_TRUE(FindSlowBursts({}, 20, milliseconds(100), kZero, kZero + milliseconds(1000)).empty());
}

TEST(CauseOf, TakesTheFirstEventThatLiesInItsWindowAroundTheBurst) {
  const SlowBurst burst{kZero + milliseconds(1000), kZero + milliseconds(1050), 3};
  auto At = [](int ms) { return kZero + milliseconds(ms); };
  // Each kind just inside its window, and just outside it.
  struct Case {
    MoveEvents events;
    BurstCause cause;
  };
  const Case cases[] = {
      {{{At(600)}, {}, {}}, BurstCause::kEtcdStarted},
      {{{At(1000)}, {}, {}}, BurstCause::kEtcdStarted},
      {{{At(599)}, {}, {}}, BurstCause::kNone},
      {{{At(1001)}, {}, {}}, BurstCause::kNone},  // a start after the burst began did not cause it
      {{{}, {At(850)}, {}}, BurstCause::kMembershipChanged},
      {{{}, {At(1350)}, {}}, BurstCause::kMembershipChanged},
      {{{}, {At(849)}, {}}, BurstCause::kNone},
      {{{}, {At(1351)}, {}}, BurstCause::kNone},
      {{{}, {}, {At(700)}}, BurstCause::kLeaderChanged},
      {{{}, {}, {At(1100)}}, BurstCause::kLeaderChanged},
      {{{}, {}, {At(699)}}, BurstCause::kNone},
      {{{}, {}, {At(1101)}}, BurstCause::kNone},
      // When several apply, a start comes first, then a membership change.
      {{{At(900)}, {At(1000)}, {At(1000)}}, BurstCause::kEtcdStarted},
      {{{At(100)}, {At(1000)}, {At(1000)}}, BurstCause::kMembershipChanged},
      {{}, BurstCause::kNone},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(CauseOf(burst, cases[i].events), cases[i].cause)
        << "case " << i << ": want " << BurstCauseName(cases[i].cause);
  }
}

// Opens a listening TCP socket on a free loopback port. Returns the socket and its
// "http://127.0.0.1:<port>" URL; the URL is "" when the socket could not be set up.
std::pair<int, std::string> ListenOnLoopback() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return {fd, ""};
  return {fd, "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port))};
}

// A loopback port that accepts connections and never answers, as a member going away or still
// replaying its log can: listening, but nobody accepts, so a request waits for the client's 2 s
// timeout. Closed when the object goes.
class SilentMember {
 public:
  SilentMember() { std::tie(fd_, url_) = ListenOnLoopback(); }
  ~SilentMember() { ::close(fd_); }
  // "" when the socket could not be set up.
  const std::string& url() const { return url_; }

 private:
  int fd_ = -1;
  std::string url_;
};

// Lets `writer` (at 1 write/s) send its first write, key 0, and returns what it recorded: an
// unacknowledged record when it recorded none.
WriteRecord FirstWrite(Writer& writer) {
  writer.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  writer.Stop();
  std::vector<WriteRecord> records = writer.Records();
  return records.empty() ? WriteRecord{} : records[0];
}

TEST(Writer, ASlowWriteIsKeptWithWhatEachAttemptMet) {
  auto cluster = testing::EtcdCluster::Start({.members = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.error().message();
  SilentMember silent;
  ASSERT_FALSE(silent.url().empty());
  const std::string silent_url = silent.url();
  const std::string live_url = (*cluster)->ClientUrl(0);

  // No leader known, so every write tries the pods in turn.
  Writer writer(
      [&] {
        return std::map<int, std::string>{{0, silent_url}, {1, live_url}};
      },
      LeaderDirectory(), 5, std::chrono::milliseconds(5000));
  writer.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  writer.Stop();

  // Key 0 starts its round of the pods at ordinal 0, the silent one.
  std::vector<WriteRecord> records = writer.Records();
  auto first_write =
      std::find_if(records.begin(), records.end(), [](const WriteRecord& r) { return r.key == 0; });
  ASSERT_NE(first_write, records.end());
  EXPECT_TRUE(first_write->acknowledged);
  EXPECT_EQ(first_write->attempts, 2);
  std::vector<std::string> slow = writer.SlowWrites();
  ASSERT_FALSE(slow.empty());
  const std::string& first = slow[0];
  EXPECT_EQ(first.rfind("/seedhop-lab/0 took ", 0), 0u) << first;
  EXPECT_NE(first.find("2 attempts; " + silent_url + " "), std::string::npos) << first;
  EXPECT_NE(first.find("; " + live_url + " "), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with(" ms: ok")) << first;
  EXPECT_EQ(writer.Verify().lost, 0);
}

TEST(Writer, RetriesOnTheLeaderNamedNowNotOnTheNextPod) {
  auto cluster = testing::EtcdCluster::Start({.members = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.error().message();
  SilentMember silent;
  ASSERT_FALSE(silent.url().empty());
  // A leader that refuses the first write (its port closed, as a member that just stopped), then
  // the new leader named. The pod the write's round of the pods would try next is the silent one.
  const std::string gone_url = "http://127.0.0.1:1";
  const std::string live_url = (*cluster)->ClientUrl(0);
  std::atomic<int> asked{0};
  Writer writer(
      [&] {
        return std::map<int, std::string>{{0, gone_url}, {1, silent.url()}, {2, live_url}};
      },
      [&] { return asked++ == 0 ? gone_url : live_url; }, 1, std::chrono::milliseconds(5000));
  const WriteRecord first = FirstWrite(writer);
  EXPECT_TRUE(first.acknowledged);
  EXPECT_EQ(first.attempts, 2);
  // The silent pod would have held it for its 2 s timeout.
  EXPECT_LT(first.latency, std::chrono::milliseconds(1500));
  EXPECT_TRUE(writer.SlowWrites().empty());
  EXPECT_EQ(writer.Verify().lost, 0);
}

// A loopback HTTP server that answers every request as etcd's gateway does for a leader that is
// handing leadership over: 503, gRPC code 14, "etcdserver: raft proposal dropped". One request per
// connection. Stops when the object goes.
class HandingOverMember {
 public:
  HandingOverMember() {
    std::tie(fd_, url_) = ListenOnLoopback();
    if (!url_.empty())
      thread_ = std::thread([this] { Serve(); });
  }
  ~HandingOverMember() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable())
      thread_.join();
    ::close(fd_);
  }
  // "" when the socket could not be set up.
  const std::string& url() const { return url_; }
  int refused() const { return refused_; }

 private:
  void Serve() {
    const std::string body = R"({"error":"etcdserver: raft proposal dropped","code":14,)"
                             R"("message":"etcdserver: raft proposal dropped"})";
    const std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
        "\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    for (int connection; (connection = ::accept(fd_, nullptr, nullptr)) >= 0;) {
      // Reads the request's head and body (small: the writer's put) before answering.
      std::string request;
      char buffer[4096];
      for (ssize_t n; request.find("\r\n\r\n") == std::string::npos || !HasBody(request);) {
        if ((n = ::recv(connection, buffer, sizeof buffer, 0)) <= 0)
          break;
        request.append(buffer, static_cast<size_t>(n));
      }
      if (::send(connection, answer.data(), answer.size(), MSG_NOSIGNAL) > 0)
        ++refused_;
      ::close(connection);
    }
  }
  static bool HasBody(const std::string& request) {
    size_t head_end = request.find("\r\n\r\n");
    size_t at = request.find("Content-Length: ");
    if (at == std::string::npos || at > head_end)
      return true;
    return request.size() - (head_end + 4) >= std::stoul(request.substr(at + 16));
  }

  int fd_ = -1;
  std::string url_;
  std::atomic<int> refused_{0};
  std::thread thread_;
};

TEST(Writer, ALeaderRefusingDuringAHandOverIsAskedAgainNotAFollower) {
  auto cluster = testing::EtcdCluster::Start({.members = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.error().message();
  HandingOverMember leader;
  SilentMember follower;
  ASSERT_FALSE(leader.url().empty());
  ASSERT_FALSE(follower.url().empty());
  const std::string live_url = (*cluster)->ClientUrl(0);
  // The sampler names the refusing leader for the first two asks, then its successor. The pod a
  // write's round of the pods would try next is a follower that holds a forwarded write until the
  // client's 2 s timeout, as a follower does while its leader hands over.
  std::atomic<int> asked{0};
  Writer writer(
      [&] {
        return std::map<int, std::string>{{0, leader.url()}, {1, follower.url()}, {2, live_url}};
      },
      [&] { return asked++ < 2 ? leader.url() : live_url; }, 1, std::chrono::milliseconds(5000));
  const WriteRecord first = FirstWrite(writer);
  EXPECT_TRUE(first.acknowledged);
  EXPECT_EQ(leader.refused(), 2);
  EXPECT_EQ(first.attempts, 3);
  EXPECT_LT(first.latency, std::chrono::milliseconds(1500));
  EXPECT_TRUE(writer.SlowWrites().empty());
  EXPECT_EQ(writer.Verify().lost, 0);
}

// What a writer at 5 writes/s from kMinWriters workers (each writes every 800 ms) recorded in 3 s,
// giving up on a write after `give_up`, when the first leader it is told of (told to worker 0,
// which starts first) is a silent member: that holds key 0 for the client's 2 s timeout, so the
// same worker's key 4, due at 800 ms, goes out at about 2 s. Empty after a setup failure.
struct HeldBackRun {
  std::vector<WriteRecord> records;
  int64_t lost = 0;
  const WriteRecord* Key(int64_t key) const {
    auto it = std::find_if(records.begin(), records.end(),
                           [key](const WriteRecord& r) { return r.key == key; });
    return it == records.end() ? nullptr : &*it;
  }
};

HeldBackRun WriteBehindASilentFirstLeader(std::chrono::milliseconds give_up) {
  static_assert(kMinWriters == 4);
  auto cluster = testing::EtcdCluster::Start({.members = 1});
  SilentMember silent;
  if (!cluster.ok() || silent.url().empty()) {
    ADD_FAILURE() << "setup: " << (cluster.ok() ? "no silent member" : cluster.error().message());
    return {};
  }
  const std::string live_url = (*cluster)->ClientUrl(0);
  std::atomic<int> asked{0};
  Writer writer(
      [&] {
        return std::map<int, std::string>{{0, live_url}};
      },
      [&] { return asked++ == 0 ? silent.url() : live_url; }, 5, give_up);
  writer.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  writer.Stop();
  return {writer.Records(), writer.Verify().lost};
}

TEST(Writer, AWriteHeldBackBehindASlowOneCountsItsLatencyFromWhenItWasDue) {
  HeldBackRun run = WriteBehindASilentFirstLeader(std::chrono::milliseconds(5000));
  const WriteRecord* first = run.Key(0);
  const WriteRecord* held_back = run.Key(4);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(held_back, nullptr);
  EXPECT_EQ(first->attempts, 2);
  EXPECT_GE(first->latency, std::chrono::milliseconds(1900));
  // Its one attempt was quick; the wait behind key 0 is what a client's queue would have seen.
  EXPECT_TRUE(held_back->acknowledged);
  EXPECT_EQ(held_back->attempts, 1);
  EXPECT_EQ(held_back->started - first->started, std::chrono::milliseconds(800));
  EXPECT_GE(held_back->latency, std::chrono::milliseconds(1000));
  EXPECT_EQ(run.lost, 0);
}

TEST(Writer, AWriteHeldBackLongerThanItsGiveUpTimeIsStillTried) {
  // Key 0 fails after its 2 s on the silent member; key 4 goes out past its due time + 1 s and
  // still gets its own second.
  HeldBackRun run = WriteBehindASilentFirstLeader(std::chrono::milliseconds(1000));
  const WriteRecord* held_back = run.Key(4);
  ASSERT_NE(held_back, nullptr);
  EXPECT_EQ(held_back->attempts, 1);
  EXPECT_TRUE(held_back->acknowledged);
  EXPECT_GE(held_back->latency, std::chrono::milliseconds(1000));
  EXPECT_EQ(run.lost, 0);
}

TEST(ProcStat, ReadsTheAggregateLine) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  auto times =
      ParseProcStat("cpu  100 2 30 500 7 1 4 6 50 0\ncpu0 50 1 15 250 3 0 2 3 25 0\nintr 1 2 3\n");
  ASSERT_TRUE(times.ok()) << times.error().message();
  EXPECT_EQ(times->busy, 100u + 2 + 30 + 1 + 4 + 6);  // guest is inside user already
  EXPECT_EQ(times->total, times->busy + 500 + 7);
}

TEST(ProcStat, RefusesWhatIsNotTheAggregateLine) {
  EXPECT_FALSE(ParseProcStat("").ok());
  EXPECT_FALSE(ParseProcStat("cpu0 1 2 3 4 5 6 7 8\n").ok());
  EXPECT_FALSE(ParseProcStat("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7 8\n").ok());
  EXPECT_FALSE(ParseProcStat("cpu  1 2 x 4 5 6 7 8\n").ok());
}

TEST(ProcStat, BusyPercentIsTheBusyShareOfTheTimeBetweenReadings) {
  EXPECT_DOUBLE_EQ(BusyPercent({100, 400}, {250, 600}), 75);
  EXPECT_DOUBLE_EQ(BusyPercent({100, 400}, {100, 400}), 0);  // no time passed
  EXPECT_DOUBLE_EQ(BusyPercent({100, 400}, {90, 500}), 0);   // not a later reading
}

TEST(ProcStat, TheMachineReadingCountsASpinningThread) {
  const CpuTimes from = ReadMachineCpu();
  ASSERT_GT(from.total, 0u);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile uint64_t spins = 0;
  while (std::chrono::steady_clock::now() < until)
    spins = spins + 1;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // This thread alone keeps one core of `cores` busy; other load only adds to it.
  EXPECT_GT(BusyPercent(from, ReadMachineCpu()), 50.0 / cores);
}

}  // namespace
}  // namespace seedhop::lab
