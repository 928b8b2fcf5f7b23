// Calls only daemonize() needs. Policy (which fds, which signals, when) lives in
// src/daemon.ts and src/pidfile.ts; these functions validate, make the call, report errno.
//
// spawnDetached() is the one long sequence: the double fork of the re-exec strategy. Between
// the fork and the execve nothing may return to JavaScript (the child of a process that was
// not started in the fork-safe mode has no usable V8 heap), so the whole daemon(7) prelude
// runs here in async-signal-safe C: setsid, second fork, signal reset, fd plumbing, execve.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
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

#include "areas.h"
#include "errors.h"
#include "platform.h"

#ifndef NSIG
#define NSIG 65
#endif

namespace posixfork {

namespace {

bool IntArray(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
              int64_t max, std::vector<int>* out) {
  if (!info[index].IsArray()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be an array of integers");
    return false;
  }
  Napi::Array array = info[index].As<Napi::Array>();
  // As in StringArrayArg: the length read once, a throwing element getter's exception kept.
  const uint32_t length = array.Length();
  for (uint32_t i = 0; i < length; i++) {
    Napi::Value item = array.Get(i);
    if (item.IsEmpty()) return false;
    if (!item.IsNumber()) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                     std::string("The \"") + name + "\" argument must be an array of integers");
      return false;
    }
    double d = item.As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) ||
        static_cast<double>(static_cast<int64_t>(d)) != d) {
      ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE",
                      std::string("The \"") + name + "\" entries must be integers >= " +
                          std::to_string(min) + " and <= " + std::to_string(max));
      return false;
    }
    out->push_back(static_cast<int>(d));
  }
  return true;
}

bool BoolArg(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out) {
  if (!info[index].IsBoolean()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type boolean");
    return false;
  }
  *out = info[index].As<Napi::Boolean>().Value();
  return true;
}

int SetCloexec(int fd, bool on) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return errno;
  int wanted = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (wanted != flags && fcntl(fd, F_SETFD, wanted) < 0) return errno;
  return 0;
}

}  // namespace

// flock(fd, operation) -> true, or false when LOCK_NB was given and another open file
// description holds a conflicting lock. flock locks belong to the open file description, so
// they survive fork() and execve(), unlike fcntl() record locks, which fork() drops.
static Napi::Value Flock(const Napi::CallbackInfo& info) {
  int64_t fd, operation;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd) ||
      !IntArg(info, 1, "operation", 0, LOCK_SH | LOCK_EX | LOCK_NB | LOCK_UN, &operation)) {
    return Napi::Value();
  }
  int r;
  do {
    r = flock(static_cast<int>(fd), static_cast<int>(operation));
  } while (r < 0 && errno == EINTR);
  if (r == 0) return Napi::Boolean::New(info.Env(), true);
  if ((operation & LOCK_NB) && errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  return ThrowErrno(info.Env(), errno, "flock");
}

// closeOnExec(fd) -> whether FD_CLOEXEC is set.
static Napi::Value CloseOnExec(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd)) return Napi::Value();
  int flags = fcntl(static_cast<int>(fd), F_GETFD);
  if (flags < 0) return ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Boolean::New(info.Env(), (flags & FD_CLOEXEC) != 0);
}

// replaceFd(source, target, closeOnExec): dup2 with the close-on-exec flag of the target chosen
// (dup3 on Linux, so the target is never briefly inheritable). Returns target.
static Napi::Value ReplaceFd(const Napi::CallbackInfo& info) {
  int64_t source, target;
  bool cloexec;
  if (!CheckArity(info, 3, 3) || !IntArg(info, 0, "source", 0, INT_MAX, &source) ||
      !IntArg(info, 1, "target", 0, INT_MAX, &target) ||
      !BoolArg(info, 2, "closeOnExec", &cloexec)) {
    return Napi::Value();
  }
  int from = static_cast<int>(source), to = static_cast<int>(target);
  if (from == to) {
    int err = SetCloexec(to, cloexec);
    if (err != 0) return ThrowErrno(info.Env(), err, "fcntl");
    return Napi::Number::New(info.Env(), to);
  }
  int r;
#ifdef __linux__
  do {
    r = dup3(from, to, cloexec ? O_CLOEXEC : 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(info.Env(), errno, "dup3");
#else
  do {
    r = dup2(from, to);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(info.Env(), errno, "dup2");
  if (cloexec) {
    int err = SetCloexec(to, true);
    if (err != 0) return ThrowErrno(info.Env(), err, "fcntl");
  }
#endif
  return Napi::Number::New(info.Env(), to);
}

// resetSignalState(keepIgnored) -> signals put back to SIG_DFL. Empties this thread's signal
// mask and resets every signal whose disposition is SIG_IGN, except those in keepIgnored
// (Node's own: SIGPIPE, SIGXFSZ). Handlers are left alone: they are Node's and libuv's, and
// they serve the JS listeners the daemon keeps.
static Napi::Value ResetSignalState(const Napi::CallbackInfo& info) {
  std::vector<int> keep;
  if (!CheckArity(info, 1, 1) || !IntArray(info, 0, "keepIgnored", 1, NSIG - 1, &keep)) {
    return Napi::Value();
  }
  sigset_t empty;
  sigemptyset(&empty);
  int err = pthread_sigmask(SIG_SETMASK, &empty, nullptr);
  if (err != 0) return ThrowErrno(info.Env(), err, "pthread_sigmask");
  Napi::Array reset = Napi::Array::New(info.Env());
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (std::find(keep.begin(), keep.end(), sig) != keep.end()) continue;
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) continue;  // EINVAL: reserved by libc
    if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_IGN) continue;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (sigaction(sig, &dfl, nullptr) == 0) {
      reset.Set(reset.Length(), Napi::Number::New(info.Env(), sig));
    }
  }
  return reset;
}

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
  ssize_t sent;
  do {
    sent = sendto(fd, message.data(), message.size(), 0,
                  reinterpret_cast<struct sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (sent < 0) return ThrowErrno(info.Env(), err, "sendto");
  return info.Env().Undefined();
}

// waitReadable(fd, timeoutMs) -> true once `fd` has data or end of file, false after
// timeoutMs. The launcher waits on the daemon's status pipe with it.
static Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  int64_t fd, timeout;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd) ||
      !IntArg(info, 1, "timeoutMs", 0, INT_MAX, &timeout)) {
    return Napi::Value();
  }
  pollfd waiting{static_cast<int>(fd), POLLIN, 0};
  int r;
  do {
    r = poll(&waiting, 1, static_cast<int>(timeout));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(info.Env(), errno, "poll");
  return Napi::Boolean::New(info.Env(), r > 0);
}

// reserveSpace(fd, bytes): allocates `bytes` past the end of a file without changing its size,
// so that a full disk (ENOSPC) or quota is reported when a log is opened, not at its first
// write. Does nothing where the file system cannot preallocate.
static Napi::Value ReserveSpace(const Napi::CallbackInfo& info) {
  int64_t fd, bytes;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd) ||
      !IntArg(info, 1, "bytes", 1, INT_MAX, &bytes)) {
    return Napi::Value();
  }
  int err = ReserveFileSpace(static_cast<int>(fd), bytes);
  if (err != 0) return ThrowErrno(info.Env(), err, "fallocate");
  return info.Env().Undefined();
}

// ---- spawnDetached: async-signal-safe helpers for the children --------------------------

namespace {

enum Report : int { kDaemonPid = 1, kSetsid, kFork, kDup, kExec };

struct Record {
  int kind;
  int value;
};

void SendRecord(int fd, int kind, int value) {
  Record record{kind, value};
  ssize_t r;
  do {
    r = write(fd, &record, sizeof record);
  } while (r < 0 && errno == EINTR);
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
// Sequence: fork; child: setsid, fork, exit; grandchild: empty signal mask, every disposition
// SIG_DFL, fd plumbing, execve. Errors from either child come back through a close-on-exec
// pipe and are thrown here as Error{code, errno, syscall}; the intermediate child is reaped.
static Napi::Value SpawnDetached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file;
  std::vector<std::string> argv, envp;
  std::vector<int> flat;
  if (!CheckArity(info, 4, 4) || !StringArg(info, 0, "file", &file) ||
      !StringArrayArg(info, 1, "argv", &argv) || !StringArrayArg(info, 2, "env", &envp) ||
      !IntArray(info, 3, "fdMap", 0, INT_MAX, &flat)) {
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

  std::vector<char*> argv_ptrs, env_ptrs;
  for (std::string& s : argv) argv_ptrs.push_back(&s[0]);
  argv_ptrs.push_back(nullptr);
  for (std::string& s : envp) env_ptrs.push_back(&s[0]);
  env_ptrs.push_back(nullptr);

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
    int err = errno;
    close(report[0]);
    close(report[1]);
    return ThrowErrno(env, err, "fork");
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
    // The daemon: not a session leader, so it can never acquire a controlling terminal.
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }
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
      int r;
      do {
        r = dup2(temps[i], targets[i]);
      } while (r < 0 && errno == EINTR);
      if (r < 0) {
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
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
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
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable, "waitReadable"));
  exports.Set("reserveSpace", Napi::Function::New(env, ReserveSpace, "reserveSpace"));
  exports.Set("closeOnExec", Napi::Function::New(env, CloseOnExec, "closeOnExec"));
  exports.Set("replaceFd", Napi::Function::New(env, ReplaceFd, "replaceFd"));
  exports.Set("resetSignalState", Napi::Function::New(env, ResetSignalState, "resetSignalState"));
  exports.Set("notifySocket", Napi::Function::New(env, NotifySocket, "notifySocket"));
  exports.Set("spawnDetached", Napi::Function::New(env, SpawnDetached, "spawnDetached"));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("LOCK_SH", Napi::Number::New(env, LOCK_SH));
  constants.Set("LOCK_EX", Napi::Number::New(env, LOCK_EX));
  constants.Set("LOCK_NB", Napi::Number::New(env, LOCK_NB));
  constants.Set("LOCK_UN", Napi::Number::New(env, LOCK_UN));
  exports.Set("flockConstants", constants);
}

}  // namespace posixfork
