// execve(): used to re-execute the current script in the fork-safe mode, and by the CLI.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "areas.h"
#include "errors.h"

namespace posixfork {

static std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(&s[0]);
  pointers.push_back(nullptr);
  return pointers;
}

// execve(path, argv, env): env is a list of "NAME=value". Returns only on failure.
// fds 0-2 are made inheritable and blocking first: libuv may have re-opened them close-on-exec
// (TTYs) or made them non-blocking, and the new program must find its stdio as it was.
static Napi::Value Execve(const Napi::CallbackInfo& info) {
  std::string path;
  std::vector<std::string> argv, envp;
  if (!CheckArity(info, 3, 3) || !StringArg(info, 0, "path", &path) ||
      !StringArrayArg(info, 1, "argv", &argv) || !StringArrayArg(info, 2, "env", &envp)) {
    return Napi::Value();
  }
  for (int fd = 0; fd <= 2; fd++) {
    int fd_flags = fcntl(fd, F_GETFD);
    if (fd_flags >= 0 && (fd_flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, fd_flags & ~FD_CLOEXEC);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  std::vector<char*> argv_ptrs = Pointers(argv), env_ptrs = Pointers(envp);
  execve(path.c_str(), argv_ptrs.data(), env_ptrs.data());
  return ThrowErrno(info.Env(), errno, "execve");
}

void InitExec(Napi::Env env, Napi::Object exports) {
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
}

}  // namespace posixfork
