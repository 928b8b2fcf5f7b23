// Process identity, sessions, process groups, the file-mode mask, and the process
// relations the platform offers (child subreaper, parent-death signal).
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "args.h"
#include "errno.h"
#include "module_init.h"
#include "platform.h"

namespace posixfork {

static Napi::Value GetPid(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  return Napi::Number::New(info.Env(), getpid());
}

static Napi::Value GetPPid(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  return Napi::Number::New(info.Env(), getppid());
}

static Napi::Value SetSid(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  pid_t sid = setsid();
  if (sid < 0) return ThrowErrno(info.Env(), errno, "setsid");
  return Napi::Number::New(info.Env(), sid);
}

// getsid(pid = 0), getpgid(pid = 0): an id that `query` reads for `pid` (0: the caller).
static Napi::Value IdOfProcess(const Napi::CallbackInfo& info, pid_t (*query)(pid_t),
                               const char* syscall) {
  int64_t pid;
  if (!CheckArity(info, 0, 1) || !OptionalIntArg(info, 0, "pid", 0, 0, INT_MAX, &pid)) {
    return Napi::Value();
  }
  pid_t id = query(static_cast<pid_t>(pid));
  if (id < 0) return ThrowErrno(info.Env(), errno, syscall);
  return Napi::Number::New(info.Env(), id);
}

static Napi::Value GetSid(const Napi::CallbackInfo& info) {
  return IdOfProcess(info, getsid, "getsid");
}

static Napi::Value GetPgid(const Napi::CallbackInfo& info) {
  return IdOfProcess(info, getpgid, "getpgid");
}

static Napi::Value SetPgid(const Napi::CallbackInfo& info) {
  int64_t pid, pgid;
  if (!CheckArity(info, 2, 2) || !IntArg(info, 0, "pid", 0, INT_MAX, &pid) ||
      !IntArg(info, 1, "pgid", 0, INT_MAX, &pgid)) {
    return Napi::Value();
  }
  if (setpgid(static_cast<pid_t>(pid), static_cast<pid_t>(pgid)) < 0) {
    return ThrowErrno(info.Env(), errno, "setpgid");
  }
  return info.Env().Undefined();
}

// umask(mask) -> previous mask
static Napi::Value Umask(const Napi::CallbackInfo& info) {
  int64_t mask;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "mask", 0, 0777, &mask)) {
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), umask(static_cast<mode_t>(mask)));
}

// setParentDeathSignal(sig) -> true when set (Linux PR_SET_PDEATHSIG: `sig` arrives when the
// parent exits), false where the system has no such setting. The caller checks getppid()
// afterwards: a parent that died before the call has sent nothing.
static Napi::Value SetParentDeathSignalJs(const Napi::CallbackInfo& info) {
  int64_t sig;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "signal", 0, 64, &sig)) return Napi::Value();
  int err = SetParentDeathSignal(static_cast<int>(sig));
  if (err == ENOSYS) return Napi::Boolean::New(info.Env(), false);
  if (err != 0) return ThrowErrno(info.Env(), err, "prctl");
  return Napi::Boolean::New(info.Env(), true);
}

// setChildSubreaper(on): Linux PR_SET_CHILD_SUBREAPER; ENOSYS elsewhere.
static Napi::Value SetChildSubreaperJs(const Napi::CallbackInfo& info) {
  bool on;
  if (!CheckArity(info, 1, 1) || !BoolArg(info, 0, "on", &on)) return Napi::Value();
  int err = SetChildSubreaper(on);
  if (err != 0) return ThrowErrno(info.Env(), err, "prctl");
  return info.Env().Undefined();
}

void InitSession(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"getpid", GetPid},
                   {"getppid", GetPPid},
                   {"setsid", SetSid},
                   {"getsid", GetSid},
                   {"setpgid", SetPgid},
                   {"getpgid", GetPgid},
                   {"umask", Umask},
                   {"setParentDeathSignal", SetParentDeathSignalJs},
                   {"setChildSubreaper", SetChildSubreaperJs}});
}

}  // namespace posixfork
