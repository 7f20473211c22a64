#include "test/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace seedhop::testing {

namespace {

std::string ReadToEnd(std::FILE* file) {
  std::string text;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, file))
    text.append(buffer, n);
  return text;
}

// Async-signal-safe: used between fork and exec.
bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status RewriteInPlace(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Error(ErrorCode::kInternal, "open " + path + ": " + std::strerror(errno));
  const bool written = WriteAll(fd, content);
  const int write_errno = errno;
  ::close(fd);
  if (!written)
    return Error(ErrorCode::kInternal, "write " + path + ": " + std::strerror(write_errno));
  return OkStatus();
}

Result<pid_t> SpawnProcess(const ProcessSpec& spec) {
  if (spec.argv.empty())
    return Error(ErrorCode::kInvalid, "spawn: empty argv");
  const std::string& program = spec.argv.front();
  // Everything the child needs is built before fork: after it, only async-signal-safe calls (the
  // caller has other threads, which may hold the allocator's locks).
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> mount_failures;
  for (const auto& mount : spec.bind_mounts) {
    mount_failures.push_back("seedhop spawn: bind mount " + mount.source + " over " + mount.target +
                             " failed\n");
  }
  const std::string unshare_failure = "seedhop spawn: unshare(CLONE_NEWNS) failed\n";
  const std::string exec_failure = "seedhop spawn: exec " + program + " failed\n";
  const std::string nice_failure =
      "seedhop spawn: setpriority(" + std::to_string(spec.nice) + ") failed\n";

  int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return Error(ErrorCode::kInternal,
                 "spawn " + program + ": open " + spec.log_path + ": " + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Closed by the child's exec (or exit): SpawnProcess returns only after the child has asked for
  // its death signal, so that a spawning thread ending right away still takes the child along.
  int started[2] = {-1, -1};
  if (::pipe2(started, O_CLOEXEC) != 0) {
    const int pipe_errno = errno;
    ::close(log_fd);
    if (null_fd >= 0)
      ::close(null_fd);
    return Error(ErrorCode::kInternal, "spawn " + program + ": pipe: " + std::strerror(pipe_errno));
  }
  const pid_t parent = ::getpid();
  const long max_fd = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Sockets of the caller's HTTP clients must not leak into the child.
    for (long fd = STDERR_FILENO + 1; fd < max_fd; ++fd) {
      if (fd != started[1])
        ::close(static_cast<int>(fd));
    }
    if (!spec.bind_mounts.empty()) {
      // Private propagation first, as unshare(1) does: otherwise, where / is a shared mount, the
      // bind mounts would appear in the parent's namespace too.
      if (::unshare(CLONE_NEWNS) != 0 ||
          ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        WriteAll(STDERR_FILENO, unshare_failure);
        ::_exit(126);
      }
      for (size_t i = 0; i < spec.bind_mounts.size(); ++i) {
        const BindMount& mount = spec.bind_mounts[i];
        if (::mount(mount.source.c_str(), mount.target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
          WriteAll(STDERR_FILENO, mount_failures[i]);
          ::_exit(126);
        }
      }
    }
    if (spec.nice != 0 && ::setpriority(PRIO_PROCESS, 0, spec.nice) != 0) {
      WriteAll(STDERR_FILENO, nice_failure);
      ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    WriteAll(STDERR_FILENO, exec_failure);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(log_fd);
  if (null_fd >= 0)
    ::close(null_fd);
  ::close(started[1]);
  if (pid > 0) {
    char ignored;
    while (::read(started[0], &ignored, 1) < 0 && errno == EINTR) {
    }
  }
  ::close(started[0]);
  if (pid < 0)
    return Error(ErrorCode::kInternal, "spawn " + program + ": fork: " + std::strerror(fork_errno));
  return pid;
}

bool ReapIfExited(pid_t pid, int* status) {
  int local = 0;
  if (::waitpid(pid, &local, WNOHANG) != pid)
    return false;
  if (status != nullptr)
    *status = local;
  return true;
}

void StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace) {
  ::kill(pid, signal);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReapIfExited(pid))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status))
    return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string WrittenSoFar(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  return ReadToEnd(file);
}

std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

std::pair<int, std::string> RunShell(const std::string& shell_command) {
  FILE* pipe = ::popen(shell_command.c_str(), "r");
  if (pipe == nullptr)
    return {-1, ""};
  std::string out = ReadToEnd(pipe);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool AcceptsConnections(const std::string& address, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::inet_pton(AF_INET, address.c_str(), &target.sin_addr) == 1 &&
            ::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace seedhop::testing
