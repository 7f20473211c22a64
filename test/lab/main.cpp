// seedhop-lab: one live migration of a real etcd cluster between two emulated seeds, with a summary
// for people and, with --json, a machine-readable report. See docs/lab.md.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli/flags.h"
#include "test/lab/lab.h"

int main(int argc, char** argv) {
  using namespace seedhop;
  cli::FlagSet flags;
  flags.String("members", "3", "the shoot's etcd size: 1, 3 or 5");
  flags.String("strategy", "Safe",
               "Safe, or Swap (the hackathon's order, to watch tolerance drop)");
  flags.String("rate", "100", "writes per second during the migration");
  flags.String("baseline-seconds", "10",
               "seconds of writes before the migration: the baseline of the p99 comparison");
  flags.String("etcd-nice", "0",
               "the etcd pods' nice value; above 0 the writer gets the CPU first (docs/lab.md)");
  flags.String("steady-seconds", "0",
               "above 0: migrate nothing, and compare this many seconds of writes after the "
               "baseline with it (the p99 comparison's null experiment)");
  flags.String("json", "", "also write the report as JSON to this file");
  flags.String("kill-migrator-at-step", "-1", "SIGKILL the owning migrator when this step starts");
  flags.Bool("kill-migrator-every-step", false, "... at every step");
  flags.String("kill-member-at-step", "-1", "SIGKILL a running etcd pod when this step starts");
  flags.String("cut-link-at-step", "-1",
               "cut the link between the seeds' peer ports when this step starts");
  flags.String("cut-link-for", "10", "seconds the link stays cut");
  flags.String("step-timeout", "120", "seconds before a failing step halts its side");
  flags.String("work-dir", "", "where processes keep data and logs; default: a new /tmp dir");
  flags.String("binary-dir", SEEDHOP_BINARY_DIR, "the build directory with the seedhop binaries");
  flags.String("source-dir", SEEDHOP_SOURCE_DIR, "the repository (for manifests)");
  flags.Bool("verbose", false, "print every pod event");
  flags.Bool("help", false, "print this text");
  std::string usage = "usage: seedhop-lab [flags]\n" + flags.Usage();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status parsed = flags.Parse(args); !parsed.ok() || flags.GetBool("help")) {
    std::fprintf(stderr, "%s%s", parsed.ok() ? "" : (parsed.error().message() + "\n").c_str(),
                 usage.c_str());
    return parsed.ok() ? 0 : 2;
  }
  auto members = flags.GetInt("members", 1, 5);
  auto rate = flags.GetInt("rate", 1, 100000);
  auto baseline = flags.GetInt("baseline-seconds", 1, 3600);
  auto kill_migrator = flags.GetInt("kill-migrator-at-step", -1, 10000);
  auto kill_member = flags.GetInt("kill-member-at-step", -1, 10000);
  auto cut_link = flags.GetInt("cut-link-at-step", -1, 10000);
  auto cut_for = flags.GetInt("cut-link-for", 1, 3600);
  auto timeout = flags.GetInt("step-timeout", 1, 86400);
  auto etcd_nice = flags.GetInt("etcd-nice", 0, 19);
  auto steady = flags.GetInt("steady-seconds", 0, 3600);
  for (const auto* value : {&members, &rate, &baseline, &kill_migrator, &kill_member, &cut_link,
                            &cut_for, &timeout, &etcd_nice, &steady}) {
    if (!value->ok()) {
      std::fprintf(stderr, "%s\n", value->error().message().c_str());
      return 2;
    }
  }
  lab::LabOptions options;
  options.members = static_cast<int>(*members);
  options.strategy = flags.GetString("strategy");
  options.write_rate = static_cast<int>(*rate);
  options.baseline = std::chrono::seconds(*baseline);
  options.kill_migrator_at_step = static_cast<int>(*kill_migrator);
  options.kill_migrator_every_step = flags.GetBool("kill-migrator-every-step");
  options.kill_member_at_step = static_cast<int>(*kill_member);
  options.cut_link_at_step = static_cast<int>(*cut_link);
  options.cut_link_for = std::chrono::seconds(*cut_for);
  options.step_timeout_seconds = static_cast<int>(*timeout);
  options.etcd_nice = static_cast<int>(*etcd_nice);
  options.steady = std::chrono::seconds(*steady);
  options.work_dir = flags.GetString("work-dir");
  options.binary_dir = flags.GetString("binary-dir");
  options.source_dir = flags.GetString("source-dir");
  options.verbose = flags.GetBool("verbose");
  auto report = lab::RunLab(options, std::cout);
  if (!report.ok()) {
    std::fprintf(stderr, "seedhop-lab: %s\n", report.error().message().c_str());
    return 2;
  }
  std::cout << "\n" << report->Summary();
  if (std::string path = flags.GetString("json"); !path.empty()) {
    std::ofstream(path) << report->ToJson().dump(2) << "\n";
  }
  return report->completed && report->writes_lost == 0 && report->writes_unverified == 0 ? 0 : 1;
}
