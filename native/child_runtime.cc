// The fork child's runtime: its repair after fork() and the routing of its end. The child's
// natural end is caught while it is still inside the loop, and every exit path ends in _exit,
// because Node's own teardown joins threads that the child does not have.
#include "child_runtime.h"

#include <napi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "args.h"
#include "fd_util.h"
#include "loop_util.h"
#include "module_init.h"
#include "page_marks.h"
#include "platform.h"

namespace posixfork {

namespace {

double g_fork_generation = 0;  // how many fork()s of this library led to this process

// What the child inherits in its loop but must not wait for:
//  - a signal the parent had caught but not yet dispatched sat in the signal pipe that
//    uv_loop_fork() replaced: the child never receives it, and a signal handle counting it as
//    pending could never finish closing (its loop would spin). Those signals were the parent's.
//  - the parent's child_process children report to the parent, never to this process: their
//    handles would keep the child's loop alive forever (as ChildProcess.unref() does).
//  - a stream the parent reads for itself (stopReadingInForkChildren): a child reading it too
//    would take the parent's data.
std::vector<int> g_parent_only_fds;

bool IsParentOnly(int fd) {
  return std::find(g_parent_only_fds.begin(), g_parent_only_fds.end(), fd) !=
         g_parent_only_fds.end();
}

void ReleaseParentsHandles(uv_handle_t* handle, void*) {
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

// Node writes to a stdio pipe or socket asynchronously once it is full (always on macOS):
// libuv queues the rest, and _exit would drop the queue. Blocking writes leave nothing
// queued. TTYs are already blocking and files synchronous. O_NONBLOCK belongs to the open
// file description, so the parent's writes to the same pipe become blocking too.
void MakeStdioPipesBlocking() {
  for (int fd = 1; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
      ClearNonblocking(fd);
    }
  }
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

DrainWatch* g_drain_watch = nullptr;

bool AliveWithoutWatch(uv_prepare_t* handle) {
  uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  bool alive = uv_loop_alive(handle->loop) != 0;
  uv_ref(reinterpret_cast<uv_handle_t*>(handle));
  return alive;
}

void CallDrainCallback(DrainWatch* watch, const char* phase) {
  Napi::HandleScope scope(watch->env);
  napi_value arg = Napi::String::New(watch->env, phase);
  CallFromLoop(watch->env, watch->context, watch->callback, 1, &arg);
}

void OnPrepare(uv_prepare_t* handle) {
  DrainWatch* watch = reinterpret_cast<DrainWatch*>(handle->data);
  if (AliveWithoutWatch(handle)) return;
  CallDrainCallback(watch, "beforeExit");
  if (AliveWithoutWatch(handle)) return;
  CallDrainCallback(watch, "exit");
}

void StartDrainWatchIn(uv_loop_t* loop) {
  DrainWatch* watch = g_drain_watch;
  if (watch == nullptr) return;
  // A grandchild inherits its parent's running watch with the loop.
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&watch->handle))) return;
  uv_prepare_init(loop, &watch->handle);
  watch->handle.data = watch;
  uv_prepare_start(&watch->handle, OnPrepare);
}

}  // namespace

void RepairChildAfterFork(uv_loop_t* loop) {
  g_fork_generation++;
  ForgetParentsMemoryWatch();
  StopRestoreTimerInChild();
  uv_walk(loop, ReleaseParentsHandles, nullptr);
  StartDrainWatchIn(loop);
  MakeStdioPipesBlocking();
}

// stopReadingInForkChildren(fd): fork children stop reading the stream on `fd` (natively, so
// that they run no JS for it).
static Napi::Value StopReadingInForkChildren(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "fd", 0, INT32_MAX, &fd)) return Napi::Value();
  if (!IsParentOnly(static_cast<int>(fd))) g_parent_only_fds.push_back(static_cast<int>(fd));
  return info.Env().Undefined();
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

// forkGeneration() -> 0 in a process not made by fork(), 1 in its children, 2 in theirs, ...
// State that belongs to one process compares it to find out that it was inherited.
static Napi::Value ForkGeneration(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  return Napi::Number::New(info.Env(), g_fork_generation);
}

// The replacement of process.reallyExit (see ExitRoutedToExit).
static Napi::Value RoutedExit(const Napi::CallbackInfo& info) {
  if (g_fork_generation > 0) {
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

// exitRoutedToExit(reallyExit) -> a replacement for process.reallyExit: Node's exit paths end
// there, and in a fork child they must end in _exit. Native, so that a child's
// process.exit() compiles no JS of ours.
static Napi::Value ExitRoutedToExit(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 1, 1) || !FunctionArg(info, 0, "reallyExit")) return Napi::Value();
  // Lives as long as the process: process.reallyExit is replaced once.
  auto* original = new Napi::FunctionReference(Napi::Persistent(info[0].As<Napi::Function>()));
  return Napi::Function::New(info.Env(), RoutedExit, "reallyExit", original);
}

void InitChildRuntime(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"prepareDrainWatch", PrepareDrainWatch}, {"forkGeneration", ForkGeneration},
                   {"stopReadingInForkChildren", StopReadingInForkChildren},
                   {"exitRoutedToExit", ExitRoutedToExit}});
}

}  // namespace posixfork
