#include "test/support/exposition.h"

#include <gtest/gtest.h>

namespace seedhop::testing {
namespace {

constexpr char kExposition[] =
    "etcd_server_health_success 12\n"
    "# HELP x_total Moves.\n"
    "# TYPE x_total counter\n"
    "x_total{outcome=\"moved\"} 3\n"
    "x_total{outcome=\"refused\"} 0.5\n"
    "x_total_extra 7\n"
    "broken many\n";

TEST(SampleValue, ReadsTheLineOfExactlyThatSeries) {
  EXPECT_EQ(SampleValue(kExposition, "etcd_server_health_success"), 12);
  EXPECT_EQ(SampleValue(kExposition, "x_total{outcome=\"moved\"}"), 3);
  EXPECT_EQ(SampleValue(kExposition, "x_total{outcome=\"refused\"}"), 0.5);
  EXPECT_EQ(SampleValue(kExposition, "x_total_extra"), 7);
}

TEST(SampleValue, NothingForAnAbsentSeriesAPrefixOrAValueThatIsNoNumber) {
  EXPECT_EQ(SampleValue(kExposition, "x_total"), std::nullopt);
  EXPECT_EQ(SampleValue(kExposition, "etcd_server_health"), std::nullopt);
  EXPECT_EQ(SampleValue(kExposition, "broken"), std::nullopt);
  EXPECT_EQ(SampleValue("", "x_total"), std::nullopt);
}

}  // namespace
}  // namespace seedhop::testing
