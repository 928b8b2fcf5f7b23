// Process identity, sessions, process groups and the file-mode mask.
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "areas.h"
#include "errors.h"
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

static Napi::Value GetSid(const Napi::CallbackInfo& info) {
  int64_t pid;
  if (!CheckArity(info, 0, 1) || !OptionalIntArg(info, 0, "pid", 0, 0, INT_MAX, &pid)) {
    return Napi::Value();
  }
  pid_t sid = getsid(static_cast<pid_t>(pid));
  if (sid < 0) return ThrowErrno(info.Env(), errno, "getsid");
  return Napi::Number::New(info.Env(), sid);
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

static Napi::Value GetPgid(const Napi::CallbackInfo& info) {
  int64_t pid;
  if (!CheckArity(info, 0, 1) || !OptionalIntArg(info, 0, "pid", 0, 0, INT_MAX, &pid)) {
    return Napi::Value();
  }
  pid_t pgid = getpgid(static_cast<pid_t>(pid));
  if (pgid < 0) return ThrowErrno(info.Env(), errno, "getpgid");
  return Napi::Number::New(info.Env(), pgid);
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

void InitSession(Napi::Env env, Napi::Object exports) {
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, GetPPid, "getppid"));
  exports.Set("setsid", Napi::Function::New(env, SetSid, "setsid"));
  exports.Set("getsid", Napi::Function::New(env, GetSid, "getsid"));
  exports.Set("setpgid", Napi::Function::New(env, SetPgid, "setpgid"));
  exports.Set("getpgid", Napi::Function::New(env, GetPgid, "getpgid"));
  exports.Set("umask", Napi::Function::New(env, Umask, "umask"));
  exports.Set("setParentDeathSignal",
              Napi::Function::New(env, SetParentDeathSignalJs, "setParentDeathSignal"));
}

}  // namespace posixfork
