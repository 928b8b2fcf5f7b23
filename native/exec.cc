// execve(): used to re-execute the current script in the fork-safe mode, and by the CLI.
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "args.h"
#include "errno.h"
#include "fd_util.h"
#include "module_init.h"

namespace posixfork {

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
    SetCloexec(fd, false);
    ClearNonblocking(fd);
  }
  std::vector<char*> argv_ptrs = CStringArray(argv), env_ptrs = CStringArray(envp);
  execve(path.c_str(), argv_ptrs.data(), env_ptrs.data());
  return ThrowErrno(info.Env(), errno, "execve");
}

void InitExec(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"execve", Execve}});
}

}  // namespace posixfork
