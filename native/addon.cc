#include <napi.h>

#include "module_init.h"

static Napi::Object InitPosixFork(Napi::Env env, Napi::Object exports) {
  posixfork::InitFork(env, exports);
  posixfork::InitChildRuntime(env, exports);
  posixfork::InitPageMarks(env, exports);
  posixfork::InitWait(env, exports);
  posixfork::InitSession(env, exports);
  posixfork::InitFds(env, exports);
  posixfork::InitFdPassing(env, exports);
  posixfork::InitExec(env, exports);
  posixfork::InitSigchld(env, exports);
  posixfork::InitSiginfo(env, exports);
  posixfork::InitSignalReset(env, exports);
  posixfork::InitDaemon(env, exports);
  return exports;
}

NODE_API_MODULE(posix_fork, InitPosixFork)
