// The lab's write-trace figures over hand-made traces: the longest stall and where it began, and
// latency percentiles within a window.
#include "test/lab/traffic.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace seedhop::lab
