#include "common/cli/flags.h"

#include <gtest/gtest.h>

#include "common/obs/metrics.h"

namespace seedhop::cli {
namespace {

FlagSet Declared() {
  FlagSet flags;
  flags.String("port", "9443", "listen port");
  flags.String("interval", "30s", "how often");
  flags.Bool("verbose", false, "say more");
  return flags;
}

TEST(FlagSet, ParsesBothValueFormsBooleansAndPositionals) {
  FlagSet flags = Declared();
  ASSERT_TRUE(flags.Parse({"serve", "--port", "8443", "--interval=10m", "--verbose", "x"}).ok());
  EXPECT_EQ(*flags.GetInt("port", 1, 65535), 8443);
  EXPECT_EQ(*flags.GetDuration("interval"), std::chrono::minutes(10));
  EXPECT_TRUE(flags.GetBool("verbose"));
  EXPECT_EQ(flags.positional(), (std::vector<std::string>{"serve", "x"}));
}

TEST(FlagSet, OneLetterFlagsTakeTheShortForm) {
  FlagSet flags;
  flags.String("n", "", "namespace");
  flags.Bool("v", false, "verbose");
  flags.String("name", "", "long");
  ASSERT_TRUE(flags.Parse({"-n", "garden-dev", "obj", "-v", "-"}).ok());
  EXPECT_EQ(flags.GetString("n"), "garden-dev");
  EXPECT_TRUE(flags.GetBool("v"));
  EXPECT_EQ(flags.positional(), (std::vector<std::string>{"obj", "-"}));
  EXPECT_EQ(flags.Parse({"-x"}).error().message(), "unknown flag --x");
  EXPECT_NE(flags.Usage().find("  -n (default"), std::string::npos);
}

TEST(FlagSet, DefaultsApplyWhenAbsent) {
  FlagSet flags = Declared();
  ASSERT_TRUE(flags.Parse({}).ok());
  EXPECT_EQ(*flags.GetInt("port", 1, 65535), 9443);
  EXPECT_FALSE(flags.GetBool("verbose"));
  EXPECT_NE(flags.Usage().find("--port (default \"9443\")"), std::string::npos);
}

TEST(FlagSet, ErrorsNameTheFlag) {
  FlagSet unknown = Declared();
  Status status = unknown.Parse({"--nope=1"});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(), "unknown flag --nope");

  FlagSet missing = Declared();
  status = missing.Parse({"--port"});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(), "flag --port needs a value");

  FlagSet bad_bool = Declared();
  EXPECT_FALSE(bad_bool.Parse({"--verbose=yes"}).ok());

  FlagSet out_of_range = Declared();
  ASSERT_TRUE(out_of_range.Parse({"--port=70000"}).ok());
  auto port = out_of_range.GetInt("port", 1, 65535);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message().find("--port"), std::string::npos);

  FlagSet bad_duration = Declared();
  ASSERT_TRUE(bad_duration.Parse({"--interval=10 minutes"}).ok());
  EXPECT_FALSE(bad_duration.GetDuration("interval").ok());
}

TEST(ParseDuration, AcceptsUnitsAndRejectsJunk) {
  EXPECT_EQ(ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_EQ(ParseDuration("5"), std::nullopt);
  EXPECT_EQ(ParseDuration("-5s"), std::nullopt);
  EXPECT_EQ(ParseDuration("s"), std::nullopt);
}

TEST(Metrics, CollectHooksRunBeforeEachScrape) {
  obs::Metrics metrics;
  auto& gauge = prometheus::BuildGauge()
                    .Name("seedhop_test_scrapes")
                    .Help("h")
                    .Register(metrics.registry())
                    .Add({});
  metrics.AddCollectHook([&gauge] { gauge.Increment(); });
  metrics.Serialize();
  EXPECT_NE(metrics.Serialize().find("seedhop_test_scrapes 2"), std::string::npos);
}

}  // namespace
}  // namespace seedhop::cli
