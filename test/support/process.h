// Child processes for tests and the lab: fork+exec with the output appended to a log file, a
// private view of chosen files (a mount namespace of the child's own with bind mounts, what
// `unshare -m sh -c 'mount --bind SRC DST && exec CMD'` does), and death with the parent
// (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::testing {

// `source` is bind-mounted over `target` inside the child's mount namespace only. Both files must
// exist. The mount binds the inode: rewrite `source` in place (open+truncate+write) to change
// what the child sees; a rename puts a new inode under the name and the child keeps the old one.
struct BindMount {
  std::string source;
  std::string target;
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is the executable's path (no PATH lookup)
  std::string log_path;           // stdout and stderr are appended here
  // Non-empty: the child gets a mount namespace of its own (propagation private, so nothing
  // leaks back) with these mounts, before exec. Needs CAP_SYS_ADMIN (root).
  std::vector<BindMount> bind_mounts;
  // The child's nice value (setpriority), set before exec and inherited by every thread the
  // program starts. 0 keeps the caller's. Raising it needs no privilege; lowering it does.
  int nice = 0;
};

// Writes `content` to `path` in place: open (creating it), truncate, write; the inode stays, so a
// bind mount of `path` shows the new content. Readers may see it half-written for a moment.
Status RewriteInPlace(const std::string& path, const std::string& content);

// Starts `spec` and returns its pid, which stays the pid of the exec'd program (no intermediate
// process), once the child has exec'd (or failed to). The child gets SIGKILL when the thread that
// called SpawnProcess exits (the kernel's PR_SET_PDEATHSIG tracks the forking thread), so call it
// from a thread that outlives the child.
// stdin is /dev/null; no other descriptor of this process leaks into the child. A failed bind
// mount, setpriority or exec ends the child with status 126/127 and a line in the log.
// REQUIRES: spec.argv is not empty.
Result<pid_t> SpawnProcess(const ProcessSpec& spec);

// Reaps `pid` if it has exited. Returns true (and sets *status when given, as waitpid reports it)
// when it had; false while it runs. REQUIRES: `pid` is a child of this process not yet reaped.
bool ReapIfExited(pid_t pid, int* status = nullptr);

// Sends `signal` to `pid`, waits up to `grace` for it to exit, then SIGKILLs it, and reaps it.
// REQUIRES: `pid` is a child of this process not yet reaped.
void StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace);

// "exit code 1", "killed by signal 9": a waitpid status for people.
std::string DescribeExit(int status);

// The last `bytes` bytes of the file at `path` ("..." in front when cut), "" when unreadable.
std::string FileTail(const std::string& path, size_t bytes);

// Everything written so far to `file` (a std::tmpfile() a logger writes to, say): flushes it,
// rewinds it and reads it to the end.
std::string WrittenSoFar(std::FILE* file);

// Runs `shell_command` with /bin/sh and waits for it to end. Returns its exit code (-1 when it
// could not start or did not exit normally) and what it wrote to stdout; add "2>&1" for stderr.
std::pair<int, std::string> RunShell(const std::string& shell_command);

// True when a TCP connection to `address`:`port` (an IPv4 literal) is accepted.
bool AcceptsConnections(const std::string& address, int port);

}  // namespace seedhop::testing
