// File descriptors. Like Python (PEP 446), dup(), pipe() and socketPair() return close-on-exec
// descriptors, while dup2() makes its target inheritable: it is meant for fds 0-2 before exec.
// Also the descriptor calls daemonize() and pidfiles need: flock, close-on-exec, waiting for
// input, reserving file space.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "args.h"
#include "errno.h"
#include "fd_util.h"
#include "module_init.h"
#include "platform.h"

namespace posixfork {

static Napi::Value Dup(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd)) return Napi::Value();
  int copy = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return ThrowErrno(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), copy);
}

static Napi::Value Dup2(const Napi::CallbackInfo& info) {
  int64_t oldfd, newfd;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "oldfd", 0, INT_MAX, &oldfd) ||
      !IntArg(info, 1, "newfd", 0, INT_MAX, &newfd)) {
    return Napi::Value();
  }
  int r = RetryOnEintr([&] { return dup2(static_cast<int>(oldfd), static_cast<int>(newfd)); });
  if (r < 0) return ThrowErrno(info.Env(), errno, "dup2");
  return Napi::Number::New(info.Env(), r);
}

// [fds[0], fds[1]] once `setup` (the fcntl errno of making them, or 0) is 0; else both are
// closed and the error thrown.
static Napi::Value FdPair(Napi::Env env, const int fds[2], int setup) {
  if (setup != 0) {
    CloseQuietly(fds[0]);
    CloseQuietly(fds[1]);
    return ThrowErrno(env, setup, "fcntl");
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(uint32_t(0), Napi::Number::New(env, fds[0]));
  result.Set(uint32_t(1), Napi::Number::New(env, fds[1]));
  return result;
}

static Napi::Value Pipe(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  int fds[2];
#ifdef __linux__
  if (pipe2(fds, O_CLOEXEC) < 0) return ThrowErrno(info.Env(), errno, "pipe");
  return FdPair(info.Env(), fds, 0);
#else
  if (pipe(fds) < 0) return ThrowErrno(info.Env(), errno, "pipe");
  int err = SetCloexec(fds[0], true);
  if (err == 0) err = SetCloexec(fds[1], true);
  return FdPair(info.Env(), fds, err);
#endif
}

// socketPair(datagram) -> [a, b]: a connected pair of Unix sockets, non-blocking and
// close-on-exec: datagram ones (each keeps its descriptors apart from the next one's) or
// stream ones (which Node can watch).
static Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  bool datagram;
  if (!CheckArity(info, 1, 1) || !BoolArg(info, 0, "datagram", &datagram)) return Napi::Value();
  int fds[2];
  if (socketpair(AF_UNIX, datagram ? SOCK_DGRAM : SOCK_STREAM, 0, fds) < 0) {
    return ThrowErrno(info.Env(), errno, "socketpair");
  }
  int err = 0;
  for (int fd : fds) {
    if (err == 0) err = SetCloexec(fd, true);
    if (err == 0) err = SetNonblocking(fd, true);
  }
  return FdPair(info.Env(), fds, err);
}

// writeAll(fd, buffer, length) -> true once `length` bytes from the start of `buffer` are
// written, false when the reader is gone (EPIPE). Waits while the pipe is full, even on a
// non-blocking descriptor. Used by Process children for their result record (internal).
static Napi::Value WriteAll(const Napi::CallbackInfo& info) {
  int64_t fd, length;
  Napi::Uint8Array buffer;
  if (!CheckArity(info, 3, 3) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd) ||
      !BytesArg(info, 1, "buffer", &buffer) ||
      !IntArg(info, 2, "length", 0, static_cast<int64_t>(buffer.ByteLength()), &length)) {
    return Napi::Value();
  }
  const uint8_t* data = buffer.Data();
  size_t done = 0;
  while (done < static_cast<size_t>(length)) {
    ssize_t n = write(static_cast<int>(fd), data + done, static_cast<size_t>(length) - done);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd waiting{static_cast<int>(fd), POLLOUT, 0};
      poll(&waiting, 1, -1);
      continue;
    }
    if (errno == EPIPE) return Napi::Boolean::New(info.Env(), false);
    return ThrowErrno(info.Env(), errno, "write");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// readAvailable(fd, buffer) -> bytes read into `buffer` now, 0 at end of file, -1 when
// nothing is there (EAGAIN on a non-blocking descriptor): no exception for the common empty
// case. Used by Process for its result pipe (internal).
static Napi::Value ReadAvailable(const Napi::CallbackInfo& info) {
  int64_t fd;
  Napi::Uint8Array buffer;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd) ||
      !BytesArg(info, 1, "buffer", &buffer)) {
    return Napi::Value();
  }
  ssize_t n =
      RetryOnEintr([&] { return read(static_cast<int>(fd), buffer.Data(), buffer.ByteLength()); });
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Napi::Number::New(info.Env(), -1);
  if (n < 0) return ThrowErrno(info.Env(), errno, "read");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// flock(fd, operation) -> true, or false when LOCK_NB was given and another open file
// description holds a conflicting lock. flock locks belong to the open file description, so
// they survive fork() and execve(), unlike fcntl() record locks, which fork() drops.
static Napi::Value Flock(const Napi::CallbackInfo& info) {
  int64_t fd, operation;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "fd", 0, INT_MAX, &fd) ||
      !IntArg(info, 1, "operation", 0, LOCK_SH | LOCK_EX | LOCK_NB | LOCK_UN, &operation)) {
    return Napi::Value();
  }
  int r = RetryOnEintr([&] { return flock(static_cast<int>(fd), static_cast<int>(operation)); });
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
  if (from != to) {
#ifdef __linux__
    if (RetryOnEintr([&] { return dup3(from, to, cloexec ? O_CLOEXEC : 0); }) < 0) {
      return ThrowErrno(info.Env(), errno, "dup3");
    }
    return Napi::Number::New(info.Env(), to);
#else
    if (RetryOnEintr([&] { return dup2(from, to); }) < 0) {
      return ThrowErrno(info.Env(), errno, "dup2");
    }
#endif
  }
  int err = SetCloexec(to, cloexec);
  if (err != 0) return ThrowErrno(info.Env(), err, "fcntl");
  return Napi::Number::New(info.Env(), to);
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
  int r = RetryOnEintr([&] { return poll(&waiting, 1, static_cast<int>(timeout)); });
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

void InitFds(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"dup", Dup},
                   {"dup2", Dup2},
                   {"pipe", Pipe},
                   {"socketPair", SocketPair},
                   {"writeAll", WriteAll},
                   {"readAvailable", ReadAvailable},
                   {"flock", Flock},
                   {"closeOnExec", CloseOnExec},
                   {"replaceFd", ReplaceFd},
                   {"waitReadable", WaitReadable},
                   {"reserveSpace", ReserveSpace}});
  ExportConstants(env, exports, "flockConstants",
                  {{"LOCK_SH", LOCK_SH}, {"LOCK_EX", LOCK_EX}, {"LOCK_NB", LOCK_NB},
                   {"LOCK_UN", LOCK_UN}});
}

}  // namespace posixfork
