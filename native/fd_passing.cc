// Passing descriptors between related processes, and memory they share: what prefork's workers
// use to hand a connection to a less busy worker. Thin calls; the policy is in TypeScript.
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "args.h"
#include "errno.h"
#include "fd_util.h"
#include "module_init.h"

namespace posixfork {

// A one-byte message with room for the control data of `kFds` descriptors: what sendFd()
// writes and receiveFds() reads.
template <size_t kFds>
struct FdMessage {
  char byte = 'C';
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFds)] = {};
  struct msghdr header = {};

  FdMessage() {
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

// sendFd(socket, fd) -> true once a copy of `fd` is queued on the datagram socket, false when
// the queue is full (the caller keeps `fd`).
static Napi::Value SendFd(const Napi::CallbackInfo& info) {
  int64_t sock, fd;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "socket", 0, INT_MAX, &sock) ||
      !IntArg(info, 1, "fd", 0, INT_MAX, &fd)) {
    return Napi::Value();
  }
  FdMessage<1> message;
  struct cmsghdr* header = CMSG_FIRSTHDR(&message.header);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  int passed = static_cast<int>(fd);
  memcpy(CMSG_DATA(header), &passed, sizeof(int));
  ssize_t sent =
      RetryOnEintr([&] { return sendmsg(static_cast<int>(sock), &message.header, 0); });
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      return Napi::Boolean::New(info.Env(), false);
    }
    return ThrowErrno(info.Env(), errno, "sendmsg");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// receiveFds(socket) -> the descriptors queued on the datagram socket (close-on-exec), oldest
// first; [] when none is.
static Napi::Value ReceiveFds(const Napi::CallbackInfo& info) {
  int64_t sock;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "socket", 0, INT_MAX, &sock)) {
    return Napi::Value();
  }
  Napi::Array result = Napi::Array::New(info.Env());
  uint32_t count = 0;
  for (;;) {
    FdMessage<4> message;
    ssize_t got =
        RetryOnEintr([&] { return recvmsg(static_cast<int>(sock), &message.header, 0); });
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return ThrowErrno(info.Env(), errno, "recvmsg");
    }
    if (got == 0 && message.header.msg_controllen == 0) break;
    for (struct cmsghdr* header = CMSG_FIRSTHDR(&message.header); header != nullptr;
         header = CMSG_NXTHDR(&message.header, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        SetCloexec(fd, true);
        result.Set(count++, Napi::Number::New(info.Env(), fd));
      }
    }
  }
  return result;
}

// sharedMemory(bytes) -> an ArrayBuffer over an anonymous shared mapping: a fork child writes
// to the same memory as its parent and its siblings, never to a copy.
static Napi::Value SharedMemory(const Napi::CallbackInfo& info) {
  int64_t bytes;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "bytes", 1, 1 << 20, &bytes)) {
    return Napi::Value();
  }
  size_t length = static_cast<size_t>(bytes);
  void* memory = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return ThrowErrno(info.Env(), errno, "mmap");
  return Napi::ArrayBuffer::New(
      info.Env(), memory, length,
      [](Napi::Env, void* data, size_t* size) {
        munmap(data, *size);
        delete size;
      },
      new size_t(length));
}

void InitFdPassing(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"sendFd", SendFd},
                   {"receiveFds", ReceiveFds},
                   {"sharedMemory", SharedMemory}});
}

}  // namespace posixfork
