// File descriptors. Like Python (PEP 446), dup() and pipe() return close-on-exec
// descriptors, while dup2() makes its target inheritable: it is meant for fds 0-2 before exec.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "areas.h"
#include "errors.h"

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
  int r;
  do {
    r = dup2(static_cast<int>(oldfd), static_cast<int>(newfd));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(info.Env(), errno, "dup2");
  return Napi::Number::New(info.Env(), r);
}

[[maybe_unused]] static bool SetCloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  return flags >= 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

static Napi::Value Pipe(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  int fds[2];
#ifdef __linux__
  if (pipe2(fds, O_CLOEXEC) < 0) return ThrowErrno(info.Env(), errno, "pipe");
#else
  if (pipe(fds) < 0) return ThrowErrno(info.Env(), errno, "pipe");
  if (!SetCloexec(fds[0]) || !SetCloexec(fds[1])) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return ThrowErrno(info.Env(), err, "fcntl");
  }
#endif
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(uint32_t(0), Napi::Number::New(info.Env(), fds[0]));
  result.Set(uint32_t(1), Napi::Number::New(info.Env(), fds[1]));
  return result;
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
  ssize_t n;
  do {
    n = read(static_cast<int>(fd), buffer.Data(), buffer.ByteLength());
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Napi::Number::New(info.Env(), -1);
  if (n < 0) return ThrowErrno(info.Env(), errno, "read");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

void InitFds(Napi::Env env, Napi::Object exports) {
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("dup2", Napi::Function::New(env, Dup2, "dup2"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("writeAll", Napi::Function::New(env, WriteAll, "writeAll"));
  exports.Set("readAvailable", Napi::Function::New(env, ReadAvailable, "readAvailable"));
}

}  // namespace posixfork
