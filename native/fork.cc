// fork() with the repairs a forked Node process needs (see shared notes, fork-in-node.md):
// the V8 heap is made copyable for the duration of the fork, the child re-arms its event
// loop before anything else touches it, and the child's natural end is caught while it is
// still inside the loop, because Node's own teardown joins threads that the child lacks.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cmath>
#include <vector>

#include "areas.h"
#include "errors.h"
#include "platform.h"

namespace posixfork {

static uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return nullptr;
  return loop;
}

static double g_fork_generation = 0;  // how many fork()s of this library led to this process
static bool InForkChild() { return g_fork_generation > 0; }
static void StartDrainWatchIn(uv_loop_t* loop);

// Node writes to a stdio pipe or socket asynchronously once it is full (always on macOS):
// libuv queues the rest, and _exit would drop the queue. Blocking writes leave nothing
// queued. TTYs are already blocking and files synchronous. O_NONBLOCK belongs to the open
// file description, so the parent's writes to the same pipe become blocking too.
static void MakeStdioPipesBlocking() {
  for (int fd = 1; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) continue;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
}

// What the child inherits in its loop but must not wait for:
//  - a signal the parent had caught but not yet dispatched sat in the signal pipe that
//    uv_loop_fork() replaced: the child never receives it, and a signal handle counting it as
//    pending could never finish closing (its loop would spin). Those signals were the parent's.
//  - the parent's child_process children report to the parent, never to this process: their
//    handles would keep the child's loop alive forever (as ChildProcess.unref() does).
//  - a stream the parent reads for itself (stopReadingInForkChildren): a child reading it too
//    would take the parent's data.
static std::vector<int> g_parent_only_fds;

static bool IsParentOnly(int fd) {
  return std::find(g_parent_only_fds.begin(), g_parent_only_fds.end(), fd) !=
         g_parent_only_fds.end();
}

static void ReleaseParentsHandles(uv_handle_t* handle, void*) {
  if (handle->type == UV_SIGNAL) {
    uv_signal_t* signal = reinterpret_cast<uv_signal_t*>(handle);
    signal->dispatched_signals = signal->caught_signals;
  } else if (handle->type == UV_PROCESS) {
    uv_unref(handle);
  } else if (handle->type == UV_NAMED_PIPE || handle->type == UV_TCP) {
    uv_os_fd_t fd;
    if (uv_fileno(handle, &fd) == 0 && IsParentOnly(fd)) {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(handle));
    }
  }
}

// stopReadingInForkChildren(fd): fork children stop reading the stream on `fd` (natively, so
// that they run no JS for it).
static Napi::Value StopReadingInForkChildren(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "fd", 0, INT32_MAX, &fd)) return Napi::Value();
  if (!IsParentOnly(static_cast<int>(fd))) g_parent_only_fds.push_back(static_cast<int>(fd));
  return info.Env().Undefined();
}

// V8's marks go back on the parent's memory once forks pause (see platform.h): a native timer,
// so that no JS runs for it, in the parent or in a child (which stops the copy it inherits:
// run there, it would cost each child that reaches its event loop). A fork only notes its
// time; the timer, started by the first fork of a burst, waits until the latest one is
// kRestoreMarksAfterMs old (restarting it on each fork wrote to the loop's timer heap, pages
// that each fork had just made copy-on-write).
constexpr uint64_t kRestoreMarksAfterMs = 50;
static uint64_t g_last_fork_ms = 0;

static uint64_t NowMs() { return uv_hrtime() / 1000000; }

struct RestoreTimer {
  uv_timer_t handle;
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

static RestoreTimer* g_restore_timer = nullptr;

static void OnRestoreTimer(uv_timer_t* handle) {
  uint64_t since = NowMs() - g_last_fork_ms;
  if (since < kRestoreMarksAfterMs) {
    uv_timer_start(handle, OnRestoreTimer, kRestoreMarksAfterMs - since, 0);
    return;
  }
  RestoreMemoryMarks();
}

static void OnRestoreTimerClosed(uv_handle_t* handle) {
  RestoreTimer* timer = static_cast<RestoreTimer*>(handle->data);
  napi_async_cleanup_hook_handle cleanup = timer->cleanup;
  delete timer;
  napi_remove_async_cleanup_hook(cleanup);
}

// The environment is going away: close the handle so that the loop can be closed.
static void OnRestoreTimerEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
  RestoreTimer* timer = static_cast<RestoreTimer*>(arg);
  g_restore_timer = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer->handle), OnRestoreTimerClosed);
}

static void RestoreMarksWhenForksPause(napi_env env, uv_loop_t* loop) {
  if (g_restore_timer == nullptr) {
    RestoreTimer* timer = new RestoreTimer();
    if (uv_timer_init(loop, &timer->handle) != 0) {
      delete timer;
      RestoreMemoryMarks();
      return;
    }
    timer->handle.data = timer;
    uv_unref(reinterpret_cast<uv_handle_t*>(&timer->handle));
    napi_add_async_cleanup_hook(env, OnRestoreTimerEnvCleanup, timer, &timer->cleanup);
    g_restore_timer = timer;
  }
  g_last_fork_ms = NowMs();
  uv_timer_t* handle = &g_restore_timer->handle;
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(handle))) {
    uv_timer_start(handle, OnRestoreTimer, kRestoreMarksAfterMs, 0);
  }
}

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
    // The rest of the child's set-up was prepared by the parent (prepareDrainWatch): doing it
    // here, natively, spares the child most first-time JS work and its page faults.
    g_fork_generation++;
    ForgetParentsMemoryWatch();
    if (g_restore_timer != nullptr) uv_timer_stop(&g_restore_timer->handle);
    uv_walk(loop, ReleaseParentsHandles, nullptr);
    StartDrainWatchIn(loop);
    MakeStdioPipesBlocking();
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

static Napi::Value MemoryScanStatsJs(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  MemoryScanStats stats = GetMemoryScanStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("fullScans", Napi::Number::New(info.Env(), static_cast<double>(stats.full_scans)));
  out.Set("mapsReads", Napi::Number::New(info.Env(), static_cast<double>(stats.maps_reads)));
  out.Set("cacheHits", Napi::Number::New(info.Env(), static_cast<double>(stats.cache_hits)));
  out.Set("unknownAreas",
          Napi::Number::New(info.Env(), static_cast<double>(stats.unknown_areas)));
  return out;
}

static Napi::Value SetChildSubreaperJs(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 1, 1)) return Napi::Value();
  if (!info[0].IsBoolean()) {
    return ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                          "The \"on\" argument must be of type boolean");
  }
  int err = SetChildSubreaper(info[0].As<Napi::Boolean>().Value());
  if (err != 0) return ThrowErrno(info.Env(), err, "prctl");
  return info.Env().Undefined();
}

// The child's end-of-loop watch: a referenced prepare handle keeps uv_run from returning
// into Node's teardown. Before each poll it asks whether anything but itself keeps the
// loop alive; when nothing does, it calls back with "beforeExit" (JS may schedule more
// work), asks again, and calls back with "exit" (JS ends the process) if still idle.
struct DrainWatch {
  uv_prepare_t handle;  // zeroed until started: uv_is_active() is false
  napi_env env;
  napi_ref callback;
  napi_async_context context;
};

static DrainWatch* g_drain_watch = nullptr;

static bool AliveWithoutWatch(uv_prepare_t* handle) {
  uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  bool alive = uv_loop_alive(handle->loop) != 0;
  uv_ref(reinterpret_cast<uv_handle_t*>(handle));
  return alive;
}

static void CallDrainCallback(DrainWatch* watch, const char* phase) {
  Napi::Env env(watch->env);
  Napi::HandleScope scope(env);
  napi_value callback, recv, arg, result;
  napi_get_reference_value(watch->env, watch->callback, &callback);
  napi_get_global(watch->env, &recv);
  arg = Napi::String::New(env, phase);
  // make_callback drains nextTicks and microtasks before it returns, like any Node callback.
  if (napi_make_callback(watch->env, watch->context, recv, callback, 1, &arg, &result) ==
      napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(watch->env, &error);
    napi_fatal_exception(watch->env, error);
  }
}

static void OnPrepare(uv_prepare_t* handle) {
  DrainWatch* watch = reinterpret_cast<DrainWatch*>(handle->data);
  if (AliveWithoutWatch(handle)) return;
  CallDrainCallback(watch, "beforeExit");
  if (AliveWithoutWatch(handle)) return;
  CallDrainCallback(watch, "exit");
}

// prepareDrainWatch(callback): done in the parent, before the first fork, so the child only
// has to start a handle, which fork() does natively.
static Napi::Value PrepareDrainWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 1, 1) || !FunctionArg(info, 0, "callback")) return Napi::Value();
  if (g_drain_watch != nullptr) return Napi::Boolean::New(env, false);
  DrainWatch* watch = new DrainWatch();
  watch->env = env;
  napi_create_reference(env, info[0], 1, &watch->callback);
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "posix-fork:child-exit"),
                  &watch->context);
  g_drain_watch = watch;
  return Napi::Boolean::New(env, true);
}

static void StartDrainWatchIn(uv_loop_t* loop) {
  DrainWatch* watch = g_drain_watch;
  if (watch == nullptr) return;
  // A grandchild inherits its parent's running watch with the loop.
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&watch->handle))) return;
  uv_prepare_init(loop, &watch->handle);
  watch->handle.data = watch;
  uv_prepare_start(&watch->handle, OnPrepare);
}

// forkGeneration() -> 0 in a process not made by fork(), 1 in its children, 2 in theirs, ...
// State that belongs to one process compares it to find out that it was inherited.
static Napi::Value ForkGeneration(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  return Napi::Number::New(info.Env(), g_fork_generation);
}

// exitRoutedToExit(reallyExit) -> a replacement for process.reallyExit: Node's exit paths end
// there, and in a fork child they must end in _exit (Node's teardown waits for threads the
// child does not have). Native, so that a child's process.exit() compiles no JS of ours.
static Napi::Value RoutedExit(const Napi::CallbackInfo& info) {
  if (InForkChild()) {
    int code = 1;
    if (info.Length() > 0 && info[0].IsNumber()) {
      // As `code & 0xff` in JS for an integer; anything else is a failure.
      double value = info[0].As<Napi::Number>().DoubleValue();
      if (std::isfinite(value) && std::trunc(value) == value) {
        double low = std::fmod(value, 256.0);
        code = static_cast<int>(low < 0 ? low + 256.0 : low);
      }
    }
    _exit(code);
  }
  Napi::Function original = static_cast<Napi::FunctionReference*>(info.Data())->Value();
  std::vector<napi_value> args(info.Length());
  for (size_t i = 0; i < info.Length(); i++) args[i] = info[i];
  return original.Call(info.This(), args);
}

static Napi::Value ExitRoutedToExit(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 1, 1) || !FunctionArg(info, 0, "reallyExit")) return Napi::Value();
  // Lives as long as the process: process.reallyExit is replaced once.
  auto* original = new Napi::FunctionReference(Napi::Persistent(info[0].As<Napi::Function>()));
  return Napi::Function::New(info.Env(), RoutedExit, "reallyExit", original);
}

void InitFork(Napi::Env env, Napi::Object exports) {
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("_exit", Napi::Function::New(env, Exit, "_exit"));
  exports.Set("activeRequestCount",
              Napi::Function::New(env, ActiveRequestCount, "activeRequestCount"));
  exports.Set("memoryScanStats", Napi::Function::New(env, MemoryScanStatsJs, "memoryScanStats"));
  exports.Set("setChildSubreaper",
              Napi::Function::New(env, SetChildSubreaperJs, "setChildSubreaper"));
  exports.Set("prepareDrainWatch",
              Napi::Function::New(env, PrepareDrainWatch, "prepareDrainWatch"));
  exports.Set("stopReadingInForkChildren",
              Napi::Function::New(env, StopReadingInForkChildren, "stopReadingInForkChildren"));
  exports.Set("forkGeneration", Napi::Function::New(env, ForkGeneration, "forkGeneration"));
  exports.Set("exitRoutedToExit",
              Napi::Function::New(env, ExitRoutedToExit, "exitRoutedToExit"));
  // Node runs its main thread on libuv's default loop and each worker thread on a loop of its
  // own. Known here, the library need not load worker_threads (~0.4 MB that every fork copies).
  exports.Set("onMainThread", Napi::Boolean::New(env, LoopOf(env) == uv_default_loop()));
}

}  // namespace posixfork
