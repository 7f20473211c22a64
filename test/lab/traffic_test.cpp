// The lab's write-trace figures over hand-made traces: the longest stall and where it began, and
// latency percentiles within a window; and the writer's record of a slow write, against real etcd.
#include "test/lab/traffic.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

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

TEST(Writer, ASlowWriteIsKeptWithWhatEachAttemptMet) {
  auto cluster = testing::EtcdCluster::Start({.members = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.error().message();
  // A member that accepts connections and never answers, as one going away can: listening, but
  // nobody accepts, so a request waits for the client's 2 s timeout.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string silent_url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const std::string live_url = (*cluster)->ClientUrl(0);

  // No sampler, so every write tries the pods in ordinal order: the silent one first.
  Writer writer(
      [&] {
        return std::map<int, std::string>{{0, silent_url}, {1, live_url}};
      },
      nullptr, 5, std::chrono::milliseconds(5000));
  writer.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  writer.Stop();
  ::close(silent);

  std::vector<WriteRecord> records = writer.Records();
  ASSERT_FALSE(records.empty());
  EXPECT_TRUE(records[0].acknowledged);
  EXPECT_EQ(records[0].attempts, 2);
  std::vector<std::string> slow = writer.SlowWrites();
  ASSERT_FALSE(slow.empty());
  const std::string& first = slow[0];
  EXPECT_EQ(first.rfind("/seedhop-lab/0 took ", 0), 0u) << first;
  EXPECT_NE(first.find("2 attempts; " + silent_url + " "), std::string::npos) << first;
  EXPECT_NE(first.find("; " + live_url + " "), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with(" ms: ok")) << first;
  EXPECT_EQ(writer.Verify().lost, 0);
}

}  // namespace
}  // namespace seedhop::lab
