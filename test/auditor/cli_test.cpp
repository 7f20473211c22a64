#include "auditor/cli.h"

#include <gtest/gtest.h>

namespace seedhop::auditor {
namespace {

TEST(ParseCommandLine, Defaults) {
  auto o = ParseCommandLine({});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->command, Command::kAudit);
  EXPECT_EQ(o->format, Format::kTable);
  EXPECT_EQ(o->interval, std::chrono::minutes(10));
  EXPECT_EQ(o->listen_port, 8080);
}

TEST(ParseCommandLine, EveryFlagForm) {
  auto o = ParseCommandLine({"-o", "json", "-nshoot--a--b", "--rules=/r.yaml", "--kubeconfig", "/k",
                             "--context=prod", "--log-level=debug"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->format, Format::kJson);
  EXPECT_EQ(o->single_namespace, "shoot--a--b");
  EXPECT_EQ(o->rules_file, "/r.yaml");
  EXPECT_EQ(o->kubeconfig, "/k");
  EXPECT_EQ(o->context, "prod");
  EXPECT_EQ(o->log_level, "debug");
  auto serve = ParseCommandLine({"serve", "--interval=30s", "--listen=127.0.0.1:9090",
                                 "--namespace-pattern", "shoot--p--.*"});
  ASSERT_TRUE(serve.ok()) << serve.error().message();
  EXPECT_EQ(serve->command, Command::kServe);
  EXPECT_EQ(serve->interval, std::chrono::seconds(30));
  EXPECT_EQ(serve->listen_address, "127.0.0.1");
  EXPECT_EQ(serve->listen_port, 9090);
  EXPECT_EQ(serve->namespace_pattern, "shoot--p--.*");
  EXPECT_EQ(ParseCommandLine({"serve", "--listen=:81"})->listen_address, "0.0.0.0");
  EXPECT_EQ(ParseCommandLine({"rules"})->command, Command::kRules);
  EXPECT_EQ(ParseCommandLine({"-o", "yaml", "--help"})->command, Command::kHelp);
}

TEST(ParseCommandLine, UsageErrorsNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-o", "xml"}, "--output"},
      {{"--output"}, "--output needs a value"},
      {{"--interval=10"}, "--interval"},
      {{"--interval=-5m"}, "--interval"},
      {{"--listen=8080"}, "--listen"},
      {{"--listen=:0"}, "--listen"},
      {{"--listen=:99999"}, "--listen"},
      {{"--frobnicate=1"}, "unknown flag --frobnicate"},
      {{"migrate"}, "unknown command"},
      {{"-x"}, "unexpected argument"},
      {{"-n", "a", "--namespace-pattern=b"}, "exclude each other"},
  };
  for (const auto& [args, text] : cases) {
    auto o = ParseCommandLine(args);
    ASSERT_FALSE(o.ok()) << text;
    EXPECT_NE(o.error().message().find(text), std::string::npos) << o.error().message();
  }
}

TEST(ParseInterval, Units) {
  EXPECT_EQ(ParseInterval("45s"), std::chrono::seconds(45));
  EXPECT_EQ(ParseInterval("2h"), std::chrono::hours(2));
  for (const char* bad : {"", "s", "10", "0m", "1.5m", "10d", "m10"}) {
    EXPECT_FALSE(ParseInterval(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace seedhop::auditor
