// Small descriptor helpers shared by every native file. All of them are async-signal-safe
// (plain system calls, no allocation), so a fork child may use them before execve.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace posixfork {

// Calls `call` again while it fails with EINTR; returns its last result.
template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result < 0 && errno == EINTR);
  return result;
}

// Sets or clears FD_CLOEXEC. Returns 0 or errno.
inline int SetCloexec(int fd, bool on) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return errno;
  int wanted = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (wanted != flags && fcntl(fd, F_SETFD, wanted) < 0) return errno;
  return 0;
}

// Sets or clears O_NONBLOCK on the open file description. Returns 0 or errno.
inline int SetNonblocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) < 0) return errno;
  return 0;
}

// Makes the open file description blocking (clears O_NONBLOCK); a bad fd is ignored.
inline void ClearNonblocking(int fd) { SetNonblocking(fd, false); }

// close() for clean-up paths: errno is kept, so the caller can still report the error that
// made it clean up.
inline void CloseQuietly(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
}

}  // namespace posixfork
