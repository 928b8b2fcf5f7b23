// fork() with what a forked Node process needs around it: the V8 heap made copyable for the
// duration of the fork (platform.h, page_marks.h), and the child's repair before anything
// else touches its loop (child_runtime.h). Also _exit and the facts fork's callers check.
#include <sys/types.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>

#include "args.h"
#include "child_runtime.h"
#include "errno.h"
#include "loop_util.h"
#include "module_init.h"
#include "page_marks.h"
#include "platform.h"

namespace posixfork {

// fork() -> 0 in the child, the child's pid in the parent.
static Napi::Value Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  uv_loop_t* loop = LoopOf(env);
  if (loop == nullptr) {
    Napi::Error::New(env, "fork: this thread has no event loop").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  int err = ShareMemoryForFork();
  if (err != 0) return ThrowErrno(env, err, "fork");

  pid_t pid = fork();
  int fork_errno = errno;
  if (pid == 0) {
    // Must be the child's first use of the loop: it gets its own epoll/kqueue instance
    // and re-registers every watcher, so I/O callbacks arrive in the child.
    if (uv_loop_fork(loop) != 0) {
      static const char msg[] = "posix-fork: uv_loop_fork failed in the child\n";
      ssize_t ignored = write(2, msg, sizeof msg - 1);
      (void)ignored;
      _exit(70);
    }
    RepairChildAfterFork(loop);
    return Napi::Number::New(env, 0);
  }
  if (pid < 0) {
    RestoreMemoryMarks();
    return ThrowErrno(env, fork_errno, "fork");
  }
  RestoreMarksWhenForksPause(env, loop);
  return Napi::Number::New(env, pid);
}

// _exit(code = 0): ends the process now, without Node's teardown.
static Napi::Value Exit(const Napi::CallbackInfo& info) {
  int64_t code;
  if (!CheckArity(info, 0, 1) || !OptionalIntArg(info, 0, "code", 0, 0, 255, &code)) {
    return Napi::Value();
  }
  _exit(static_cast<int>(code));
}

// activeRequestCount() -> uv requests in flight on this loop (fs, dns, writes, threadpool work).
static Napi::Value ActiveRequestCount(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  uv_loop_t* loop = LoopOf(info.Env());
  return Napi::Number::New(info.Env(), loop == nullptr ? 0 : loop->active_reqs.count);
}

void InitFork(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"fork", Fork}, {"_exit", Exit}, {"activeRequestCount", ActiveRequestCount}});
  // Node runs its main thread on libuv's default loop and each worker thread on a loop of its
  // own. Known here, the library need not load worker_threads, which every fork would copy.
  exports.Set("onMainThread", Napi::Boolean::New(env, LoopOf(env) == uv_default_loop()));
}

}  // namespace posixfork
