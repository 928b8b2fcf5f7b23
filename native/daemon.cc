// The native double fork: spawnDetached(), the re-exec strategy of daemonize(). Between the
// fork and the execve nothing may return to JavaScript (the child of a process that was not
// started in the fork-safe mode has no usable V8 heap), so the whole daemon(7) prelude runs
// here in async-signal-safe C: setsid, second fork, signal reset, fd plumbing, execve. Policy
// (which fds, when) lives in src/daemon/. Also notifySocket(), the daemon's sd_notify(3).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "errno.h"
#include "fd_util.h"
#include "module_init.h"
#include "signal_reset.h"

namespace posixfork {

// notifySocket(path, message): one datagram to a unix datagram socket, as sd_notify(3) sends
// to $NOTIFY_SOCKET. A path starting with '@' names a Linux abstract socket.
static Napi::Value NotifySocket(const Napi::CallbackInfo& info) {
  std::string path, message;
  if (!CheckArity(info, 2, 2) || !StringArg(info, 0, "path", &path) ||
      !StringArg(info, 1, "message", &message)) {
    return Napi::Value();
  }
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() > sizeof address.sun_path - (path[0] == '@' ? 0 : 1)) {
    return ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE",
                           "The \"path\" argument must be a socket path of 1 to " +
                               std::to_string(sizeof address.sun_path - 1) + " bytes");
  }
  memcpy(address.sun_path, path.data(), path.size());
  if (path[0] == '@') address.sun_path[0] = '\0';
  socklen_t length =
      static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());
#ifdef __linux__
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
#else
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd >= 0) SetCloexec(fd, true);
#endif
  if (fd < 0) return ThrowErrno(info.Env(), errno, "socket");
  ssize_t sent = RetryOnEintr([&] {
    return sendto(fd, message.data(), message.size(), 0,
                  reinterpret_cast<struct sockaddr*>(&address), length);
  });
  CloseQuietly(fd);
  if (sent < 0) return ThrowErrno(info.Env(), errno, "sendto");
  return info.Env().Undefined();
}

namespace {

enum Report : int { kDaemonPid = 1, kSetsid, kFork, kDup, kExec };

struct Record {
  int kind;
  int value;
};

void SendRecord(int fd, int kind, int value) {
  Record record{kind, value};
  RetryOnEintr([&] { return write(fd, &record, sizeof record); });
}

bool Kept(int fd, const int* keep, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (keep[i] == fd) return true;
  }
  return false;
}

// Closes every fd >= 3 not in keep (sorted ascending). No allocation.
void CloseAllExcept(const int* keep, size_t count) {
#if defined(__linux__) && defined(SYS_close_range)
  // close_range(2), Linux 5.9+: one call per gap between kept fds.
  unsigned int low = 3;
  bool ok = true;
  for (size_t i = 0; i < count && ok; i++) {
    if (keep[i] < 0 || static_cast<unsigned int>(keep[i]) < low) continue;
    unsigned int kept = static_cast<unsigned int>(keep[i]);
    if (kept > low && syscall(SYS_close_range, low, kept - 1, 0) != 0) ok = false;
    low = kept + 1;
  }
  if (ok && syscall(SYS_close_range, low, ~0U, 0) == 0) return;
#endif
  struct rlimit limit;
  int max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < static_cast<rlim_t>(max)) {
    max = static_cast<int>(limit.rlim_cur);
  }
  for (int fd = 3; fd < max; fd++) {
    if (!Kept(fd, keep, count)) close(fd);
  }
}

}  // namespace

// spawnDetached(file, argv, env, fdMap) -> the daemon's pid.
// fdMap is a flat list of [target, source] pairs: in the daemon, fd `target` will be a copy of
// the caller's fd `source` (inheritable); every other fd is closed; 0, 1 and 2 must be mapped.
// Sequence: fork; child: setsid, fork, exit; grandchild: signal reset (signal_reset.h), fd
// plumbing, execve. Errors from either child come back through a close-on-exec
// pipe and are thrown here as Error{code, errno, syscall}; the intermediate child is reaped.
static Napi::Value SpawnDetached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file;
  std::vector<std::string> argv, envp;
  std::vector<int> flat;
  if (!CheckArity(info, 4, 4) || !StringArg(info, 0, "file", &file) ||
      !StringArrayArg(info, 1, "argv", &argv) || !StringArrayArg(info, 2, "env", &envp) ||
      !IntArrayArg(info, 3, "fdMap", 0, INT_MAX, &flat)) {
    return Napi::Value();
  }
  if (flat.size() % 2 != 0) {
    return ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                          "The \"fdMap\" argument must list [target, source] pairs");
  }
  size_t pairs = flat.size() / 2;
  std::vector<int> targets, sources;
  for (size_t i = 0; i < pairs; i++) {
    targets.push_back(flat[2 * i]);
    sources.push_back(flat[2 * i + 1]);
  }
  std::vector<int> sorted_targets = targets;
  std::sort(sorted_targets.begin(), sorted_targets.end());
  sorted_targets.reserve(sorted_targets.size() + 1);  // the child adds one without malloc
  if (std::adjacent_find(sorted_targets.begin(), sorted_targets.end()) != sorted_targets.end() ||
      sorted_targets.size() < 3 || sorted_targets[0] != 0 || sorted_targets[1] != 1 ||
      sorted_targets[2] != 2) {
    return ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                          "The \"fdMap\" argument must map 0, 1 and 2, each target once");
  }
  for (int source : sources) {
    if (fcntl(source, F_GETFD) < 0) return ThrowErrno(env, errno, "fcntl");
  }
  // Temporary copies go above every fd involved, so no dup2 overwrites a source still needed;
  // the report pipe's copy goes above them. No descriptor can be numbered past INT_MAX: a
  // target that leaves no room is refused as dup2 refuses an fd beyond the limit.
  int64_t highest = std::max(*std::max_element(targets.begin(), targets.end()),
                             *std::max_element(sources.begin(), sources.end()));
  if (highest + 1 + static_cast<int64_t>(pairs) > INT_MAX) return ThrowErrno(env, EBADF, "dup2");
  int base = static_cast<int>(highest + 1);
  std::vector<int> temps(pairs, -1);

  std::vector<char*> argv_ptrs = CStringArray(argv), env_ptrs = CStringArray(envp);

  int report[2];
#ifdef __linux__
  if (pipe2(report, O_CLOEXEC) < 0) return ThrowErrno(env, errno, "pipe");
#else
  if (pipe(report) < 0) return ThrowErrno(env, errno, "pipe");
  SetCloexec(report[0], true);
  SetCloexec(report[1], true);
#endif

  pid_t child = fork();
  if (child < 0) {
    CloseQuietly(report[0]);
    CloseQuietly(report[1]);
    return ThrowErrno(env, errno, "fork");
  }
  if (child == 0) {
    // Intermediate child: only async-signal-safe calls from here to _exit/execve.
    close(report[0]);
    if (setsid() < 0) {
      SendRecord(report[1], kSetsid, errno);
      _exit(1);
    }
    pid_t daemon = fork();
    if (daemon < 0) {
      SendRecord(report[1], kFork, errno);
      _exit(1);
    }
    if (daemon > 0) {
      SendRecord(report[1], kDaemonPid, static_cast<int>(daemon));
      _exit(0);
    }
    // The daemon: not a session leader, so it can never acquire a controlling terminal. Its
    // signal state is reset as every daemon's is (signal_reset.h); the caught signals too, so
    // that no handler of the parent's runs before execve.
    ResetSignalDispositions(kNodeIgnoredSignals, kNodeIgnoredSignalCount, true, nullptr, nullptr);
    int reporter = report[1];
    if (reporter < base) {
      reporter = fcntl(report[1], F_DUPFD_CLOEXEC, base + static_cast<int>(pairs));
      if (reporter < 0) _exit(126);
    }
    for (size_t i = 0; i < pairs; i++) {
      temps[i] = fcntl(sources[i], F_DUPFD, base);
      if (temps[i] < 0) {
        SendRecord(reporter, kDup, errno);
        _exit(126);
      }
    }
    for (size_t i = 0; i < pairs; i++) {
      if (RetryOnEintr([&] { return dup2(temps[i], targets[i]); }) < 0) {
        SendRecord(reporter, kDup, errno);
        _exit(126);
      }
    }
    // Keep the mapped targets and the report pipe (close-on-exec: execve closes it).
    std::vector<int>& keep = sorted_targets;  // capacity reserved before fork: no malloc
    keep.push_back(reporter);
    std::sort(keep.begin(), keep.end());
    CloseAllExcept(keep.data(), keep.size());
    execve(file.c_str(), argv_ptrs.data(), env_ptrs.data());
    SendRecord(reporter, kExec, errno);
    _exit(127);
  }

  close(report[1]);
  int daemon_pid = -1, failure = 0, failed_step = 0;
  for (;;) {
    Record record;
    ssize_t n = read(report[0], &record, sizeof record);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof record)) break;
    if (record.kind == kDaemonPid) {
      daemon_pid = record.value;
    } else if (failure == 0) {
      failed_step = record.kind;
      failure = record.value;
    }
  }
  close(report[0]);
  int status = 0;
  RetryOnEintr([&] { return waitpid(child, &status, 0); });
  if (failure != 0) {
    const char* syscall = failed_step == kSetsid ? "setsid"
                          : failed_step == kFork ? "fork"
                          : failed_step == kDup  ? "dup2"
                                                 : "execve";
    return ThrowErrno(env, failure, syscall);
  }
  if (daemon_pid <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return ThrowErrno(env, ECHILD, "fork");
  }
  return Napi::Number::New(env, daemon_pid);
}

void InitDaemon(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"notifySocket", NotifySocket}, {"spawnDetached", SpawnDetached}});
}

}  // namespace posixfork
