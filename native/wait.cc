// waitpid/wait with EINTR retry, the wait-status macros and their constants.
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <climits>

#include "areas.h"
#include "errors.h"

namespace posixfork {

static constexpr int kKnownOptions = WNOHANG | WUNTRACED | WCONTINUED;

static Napi::Value PidAndStatus(Napi::Env env, pid_t pid, int status) {
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(uint32_t(0), Napi::Number::New(env, pid));
  result.Set(uint32_t(1), Napi::Number::New(env, status));
  return result;
}

// waitpid(pid, options = 0) -> [pid, status] | null (WNOHANG, nothing changed).
static Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid, options;
  if (!CheckArity(info, 1, 2) || !IntArg(info, 0, "pid", INT_MIN + 1LL, INT_MAX, &pid) ||
      !OptionalIntArg(info, 1, "options", 0, 0, kKnownOptions, &options)) {
    return Napi::Value();
  }
  if ((options & ~kKnownOptions) != 0) {
    return ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                           "The value of \"options\" must be a combination of WNOHANG, "
                           "WUNTRACED and WCONTINUED. Received " +
                               std::to_string(options));
  }
  int status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(static_cast<pid_t>(pid), &status, static_cast<int>(options));
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0) return ThrowErrno(env, errno, "waitpid");
  if (reaped == 0) return env.Null();
  return PidAndStatus(env, reaped, status);
}

// wait() -> [pid, status]
static Napi::Value Wait(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  int status = 0;
  pid_t reaped;
  do {
    reaped = wait(&status);
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0) return ThrowErrno(info.Env(), errno, "wait");
  return PidAndStatus(info.Env(), reaped, status);
}

// decodeStatus(status) -> [exited, exitStatus, signaled, termSig, coreDumped, stopped,
// stopSig, continued]: the platform's own W* macros, so Linux and macOS encodings both hold.
// Each value is the macro's raw result, as in C and Python, whatever the predicates say.
static Napi::Value DecodeStatus(const Napi::CallbackInfo& info) {
  int64_t raw;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "status", INT_MIN, INT_MAX, &raw)) {
    return Napi::Value();
  }
  int status = static_cast<int>(raw);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 8);
  out.Set(uint32_t(0), Napi::Boolean::New(env, WIFEXITED(status)));
  out.Set(uint32_t(1), Napi::Number::New(env, WEXITSTATUS(status)));
  out.Set(uint32_t(2), Napi::Boolean::New(env, WIFSIGNALED(status)));
  out.Set(uint32_t(3), Napi::Number::New(env, WTERMSIG(status)));
#ifdef WCOREDUMP
  out.Set(uint32_t(4), Napi::Boolean::New(env, WCOREDUMP(status) != 0));
#else
  out.Set(uint32_t(4), Napi::Boolean::New(env, false));
#endif
  out.Set(uint32_t(5), Napi::Boolean::New(env, WIFSTOPPED(status)));
  out.Set(uint32_t(6), Napi::Number::New(env, WSTOPSIG(status)));
  out.Set(uint32_t(7), Napi::Boolean::New(env, WIFCONTINUED(status)));
  return out;
}

// childExited() -> whether some child has ended and waits to be reaped (waitid with WNOWAIT:
// nothing is reaped). One call instead of a waitpid per child when nothing has changed.
static Napi::Value ChildExited(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  siginfo_t found;
  found.si_pid = 0;
  int r;
  do {
    r = waitid(P_ALL, 0, &found, WEXITED | WNOHANG | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && errno != ECHILD) return ThrowErrno(info.Env(), errno, "waitid");
  return Napi::Boolean::New(info.Env(), r == 0 && found.si_pid != 0);
}

void InitWait(Napi::Env env, Napi::Object exports) {
  exports.Set("waitpid", Napi::Function::New(env, WaitPid, "waitpid"));
  exports.Set("wait", Napi::Function::New(env, Wait, "wait"));
  exports.Set("decodeStatus", Napi::Function::New(env, DecodeStatus, "decodeStatus"));
  exports.Set("childExited", Napi::Function::New(env, ChildExited, "childExited"));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("WNOHANG", Napi::Number::New(env, WNOHANG));
  constants.Set("WUNTRACED", Napi::Number::New(env, WUNTRACED));
  constants.Set("WCONTINUED", Napi::Number::New(env, WCONTINUED));
  exports.Set("constants", constants);
}

}  // namespace posixfork
