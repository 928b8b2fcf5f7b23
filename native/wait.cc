// waitpid/wait with EINTR retry, the wait-status macros and their constants.
//
// A wait answers with one array, the wait record: [pid, status, exited, exitStatus, signaled,
// termSig, coreDumped, stopped, stopSig, continued] (src/status.ts builds the WaitStatus from
// it). The fields are the platform's own W* macros, so Linux and macOS encodings both hold,
// and a reaping loop crosses into C++ once per child.
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <climits>

#include "args.h"
#include "errno.h"
#include "fd_util.h"
#include "module_init.h"

namespace posixfork {

static constexpr int kKnownOptions = WNOHANG | WUNTRACED | WCONTINUED;
static constexpr uint32_t kDecodedFields = 8;

// Writes the eight W* fields of `status` into `out` from index `at`. Each value is the macro's
// raw result, as in C and Python, whatever the predicates say.
static void SetDecodedFields(Napi::Env env, Napi::Array out, uint32_t at, int status) {
#ifdef WCOREDUMP
  bool core_dumped = WCOREDUMP(status) != 0;
#else
  bool core_dumped = false;
#endif
  out.Set(at + 0, Napi::Boolean::New(env, WIFEXITED(status)));
  out.Set(at + 1, Napi::Number::New(env, WEXITSTATUS(status)));
  out.Set(at + 2, Napi::Boolean::New(env, WIFSIGNALED(status)));
  out.Set(at + 3, Napi::Number::New(env, WTERMSIG(status)));
  out.Set(at + 4, Napi::Boolean::New(env, core_dumped));
  out.Set(at + 5, Napi::Boolean::New(env, WIFSTOPPED(status)));
  out.Set(at + 6, Napi::Number::New(env, WSTOPSIG(status)));
  out.Set(at + 7, Napi::Boolean::New(env, WIFCONTINUED(status)));
}

static Napi::Value WaitRecord(Napi::Env env, pid_t pid, int status) {
  Napi::Array record = Napi::Array::New(env, 2 + kDecodedFields);
  record.Set(uint32_t(0), Napi::Number::New(env, pid));
  record.Set(uint32_t(1), Napi::Number::New(env, status));
  SetDecodedFields(env, record, 2, status);
  return record;
}

// waitpid(pid, options = 0) -> the wait record, or null (WNOHANG, nothing changed).
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
  pid_t reaped = RetryOnEintr(
      [&] { return waitpid(static_cast<pid_t>(pid), &status, static_cast<int>(options)); });
  if (reaped < 0) return ThrowErrno(env, errno, "waitpid");
  if (reaped == 0) return env.Null();
  return WaitRecord(env, reaped, status);
}

// wait() -> the wait record.
static Napi::Value Wait(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  int status = 0;
  pid_t reaped = RetryOnEintr([&] { return wait(&status); });
  if (reaped < 0) return ThrowErrno(info.Env(), errno, "wait");
  return WaitRecord(info.Env(), reaped, status);
}

// decodeStatus(status) -> [exited, exitStatus, signaled, termSig, coreDumped, stopped,
// stopSig, continued]: the wait record's fields for a status word alone (the W* functions).
static Napi::Value DecodeStatus(const Napi::CallbackInfo& info) {
  int64_t raw;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "status", INT_MIN, INT_MAX, &raw)) {
    return Napi::Value();
  }
  Napi::Array out = Napi::Array::New(info.Env(), kDecodedFields);
  SetDecodedFields(info.Env(), out, 0, static_cast<int>(raw));
  return out;
}

// childExited() -> whether some child has ended and waits to be reaped (waitid with WNOWAIT:
// nothing is reaped). One call instead of a waitpid per child when nothing has changed.
static Napi::Value ChildExited(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  siginfo_t found;
  found.si_pid = 0;
  int r = RetryOnEintr([&] { return waitid(P_ALL, 0, &found, WEXITED | WNOHANG | WNOWAIT); });
  if (r < 0 && errno != ECHILD) return ThrowErrno(info.Env(), errno, "waitid");
  return Napi::Boolean::New(info.Env(), r == 0 && found.si_pid != 0);
}

void InitWait(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"waitpid", WaitPid}, {"wait", Wait}, {"decodeStatus", DecodeStatus},
                   {"childExited", ChildExited}});
  ExportConstants(env, exports, "constants",
                  {{"WNOHANG", WNOHANG}, {"WUNTRACED", WUNTRACED}, {"WCONTINUED", WCONTINUED}});
}

}  // namespace posixfork
