// SpawnProcess's private file views: what the lab's pods rely on for their own /etc/hosts.
#include "test/support/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <iterator>
#include <sstream>
#include <thread>

#include "test/support/certs.h"

namespace seedhop::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = MakeTempDir("seedhop-process-");
    ASSERT_TRUE(dir.ok()) << dir.error().message();
    dir_ = *dir;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Waits for `pid` to exit and returns its log.
  std::string Finish(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_EQ(DescribeExit(status), "exit code 0");
    auto log = ReadFile(dir_ + "/log");
    return log.ok() ? *log : "";
  }

  std::string dir_;
};

TEST_F(ProcessTest, ABindMountedFileIsPrivateAndFollowsRewritesInPlace) {
  const std::string hosts = dir_ + "/hosts";
  ASSERT_TRUE(RewriteInPlace(hosts, "127.1.2.3\tfirst-view\n").ok());
  auto before = ReadFile("/etc/hosts");
  ASSERT_TRUE(before.ok());
  // `$$` is the shell's own pid: the pid returned is the program's, with nothing in between.
  auto pid = SpawnProcess({{"/bin/sh", "-c", "echo $$; cat /etc/hosts; sleep 1; cat /etc/hosts"},
                           dir_ + "/log",
                           {{hosts, "/etc/hosts"}}});
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  std::this_thread::sleep_for(300ms);
  // The parent keeps its own file while the child runs.
  EXPECT_EQ(*ReadFile("/etc/hosts"), *before);
  ASSERT_TRUE(RewriteInPlace(hosts, "127.1.2.4\tsecond-view\n").ok());
  EXPECT_EQ(Finish(*pid),
            std::to_string(*pid) + "\n127.1.2.3\tfirst-view\n127.1.2.4\tsecond-view\n");
}

TEST_F(ProcessTest, TheChildDiesWithTheThreadThatSpawnedIt) {
  // The thread ends as soon as SpawnProcess returns. With a bind mount too: the death signal must
  // survive unshare and exec.
  ASSERT_TRUE(RewriteInPlace(dir_ + "/hosts", "").ok());
  Result<pid_t> pid = Error(ErrorCode::kInternal, "not spawned");
  std::thread spawner([&] {
    pid = SpawnProcess({{"/bin/sleep", "30"}, dir_ + "/log", {{dir_ + "/hosts", "/etc/hosts"}}});
  });
  spawner.join();
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  int status = 0;
  ::waitpid(*pid, &status, 0);
  EXPECT_EQ(DescribeExit(status), "killed by signal 9");
}

TEST_F(ProcessTest, AFailingBindMountEndsTheChildWithAReason) {
  auto pid = SpawnProcess({{"/bin/true"}, dir_ + "/log", {{dir_ + "/missing", "/etc/hosts"}}});
  ASSERT_TRUE(pid.ok());
  int status = 0;
  ::waitpid(*pid, &status, 0);
  EXPECT_EQ(DescribeExit(status), "exit code 126");
  EXPECT_NE(FileTail(dir_ + "/log", 200).find("bind mount " + dir_ + "/missing"),
            std::string::npos);
}

TEST_F(ProcessTest, TheChildRunsAtTheNiceValueAskedFor) {
  // /proc/PID/stat's 19th field is the nice value; the fields after the command's closing
  // parenthesis start at the 3rd.
  ProcessSpec spec{
      {"/bin/sh", "-c", "read -r stat < /proc/$$/stat; echo \"${stat##*) }\""}, dir_ + "/log", {}};
  spec.nice = 7;
  auto pid = SpawnProcess(spec);
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  std::istringstream fields(Finish(*pid));
  std::vector<std::string> after_command{std::istream_iterator<std::string>(fields), {}};
  ASSERT_GE(after_command.size(), 17u);
  EXPECT_EQ(after_command[19 - 3], "7");
}

TEST_F(ProcessTest, StopProcessEscalatesToSigkill) {
  // An ignored SIGTERM stays ignored across exec, so only the SIGKILL after the grace period ends
  // it.
  auto pid = SpawnProcess({{"/bin/sh", "-c", "trap '' TERM; exec sleep 5"}, dir_ + "/log", {}});
  ASSERT_TRUE(pid.ok());
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  StopProcess(*pid, SIGTERM, 200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(ReapIfExited(*pid));  // already reaped: no such child any more
}

TEST(WrittenSoFarTest, ReadsEverythingFromTheStartEachTime) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(WrittenSoFar(file), "");
  std::fputs("first line\n", file);
  EXPECT_EQ(WrittenSoFar(file), "first line\n");
  // More than one read buffer, appended after a read.
  const std::string more(10000, 'x');
  std::fputs(more.c_str(), file);
  EXPECT_EQ(WrittenSoFar(file), "first line\n" + more);
  std::fclose(file);
}

}  // namespace
}  // namespace seedhop::testing
