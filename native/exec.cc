// execve(): used to re-execute the current script in the fork-safe mode, and by the CLI.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "areas.h"
#include "errors.h"

namespace posixfork {

static bool StringArray(const Napi::CallbackInfo& info, size_t index, const char* name,
                        std::vector<std::string>* out) {
  if (!info[index].IsArray()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be an array of strings");
    return false;
  }
  Napi::Array array = info[index].As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                     std::string("The \"") + name + "\" argument must be an array of strings");
      return false;
    }
    std::string s = item.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                     std::string("The \"") + name + "\" argument must not contain null bytes");
      return false;
    }
    out->push_back(std::move(s));
  }
  return true;
}

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
      !StringArray(info, 1, "argv", &argv) || !StringArray(info, 2, "env", &envp)) {
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
