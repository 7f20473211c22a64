// seedhop-emulator: a standalone Kubernetes API-server emulator for the lab and manual poking.
//   seedhop-emulator --port N --token T --kubeconfig-out PATH [--address A] [--watch-history N]
// Runs until SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/obs/log.h"
#include "test/emulator/emulator.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "seedhop-emulator: %s\nusage: seedhop-emulator --port N --token T "
               "--kubeconfig-out PATH [--address A] [--watch-history N]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  seedhop::emulator::EmulatorOptions options;
  std::string kubeconfig;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc)
      return Usage(("missing value for " + flag).c_str());
    std::string value = argv[++i];
    if (flag == "--port") {
      char* end = nullptr;
      long port = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || port < 0 || port > 65535)
        return Usage("--port: not a port number");
      options.port = static_cast<uint16_t>(port);
    } else if (flag == "--token") {
      options.token = value;
    } else if (flag == "--kubeconfig-out") {
      kubeconfig = value;
    } else if (flag == "--address") {
      options.address = value;
    } else if (flag == "--watch-history") {
      options.watch_history = std::strtoul(value.c_str(), nullptr, 10);
      if (options.watch_history == 0)
        return Usage("--watch-history: must be positive");
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (kubeconfig.empty())
    return Usage("--kubeconfig-out is required");
  if (options.token.empty())
    return Usage("--token must not be empty");

  // Block the signals before any thread starts so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  seedhop::obs::Logger log("emulator");
  seedhop::emulator::Emulator emulator(options);
  auto started = emulator.Start();
  if (!started.ok()) {
    log.Error("start failed", {{"error", started.error().message()}});
    return 1;
  }
  auto written = emulator.WriteKubeconfig(kubeconfig);
  if (!written.ok()) {
    log.Error("kubeconfig not written", {{"error", written.error().message()}});
    return 1;
  }
  log.Info("serving", {{"url", emulator.url()}, {"kubeconfig", kubeconfig}});
  int received = 0;
  sigwait(&signals, &received);
  log.Info("stopping", {{"signal", std::to_string(received)}});
  emulator.Stop();
  return 0;
}
