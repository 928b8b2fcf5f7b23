// SIGCHLD watching for the Reaper: a uv_signal_t in the environment's own event loop.
//
// Not a raw sigaction(): libuv reaps child_process children from its own SIGCHLD watcher, and
// a second process-wide handler would replace libuv's. A uv_signal_t shares libuv's handler,
// so both watchers see every SIGCHLD. The handle is unref'd: watching never keeps the loop
// alive unless JS asks for it (a pending waitFor()). Reaping policy lives in src/reaper*.ts;
// this file only starts, stops and reports "SIGCHLD arrived".
//
// Fork: the child inherits the handle (uv_loop_fork re-registers it in the child's loop), so
// the handle is initialised once per environment and never again: starting in the child
// reuses the inherited handle instead of initialising a struct that is already in the loop.
#include <uv.h>

#include <csignal>
#include <mutex>
#include <unordered_map>

#include "args.h"
#include "errno.h"
#include "loop_util.h"
#include "module_init.h"

namespace posixfork {

namespace {

struct SigchldWatch {
  uv_signal_t handle;
  napi_env env;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  bool keep_alive = false;
  void BeforeClose();
};

// One watch per Node environment (main thread, each worker).
std::mutex g_mutex;
std::unordered_map<napi_env, SigchldWatch*> g_watches;

SigchldWatch* Find(napi_env env) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_watches.find(env);
  return it == g_watches.end() ? nullptr : it->second;
}

uv_handle_t* AsHandle(SigchldWatch* watch) {
  return reinterpret_cast<uv_handle_t*>(&watch->handle);
}

void ReleaseCallback(SigchldWatch* watch) {
  if (watch->callback != nullptr) {
    napi_delete_reference(watch->env, watch->callback);
    watch->callback = nullptr;
  }
}

void OnSigchld(uv_signal_t* handle, int) {
  SigchldWatch* watch = static_cast<SigchldWatch*>(handle->data);
  if (watch->callback != nullptr) CallFromLoop(watch->env, watch->context, watch->callback, 0, nullptr);
}

// The environment is going away: its watch is forgotten and releases what it holds.
void SigchldWatch::BeforeClose() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_watches.erase(env);
  }
  ReleaseCallback(this);
  napi_async_destroy(env, context);
}

// Creates the environment's watch on first use; afterwards (also in a fork child) returns the
// existing one. Returns nullptr with a JS exception pending on failure.
SigchldWatch* Obtain(Napi::Env env) {
  SigchldWatch* watch = Find(env);
  if (watch != nullptr) return watch;
  uv_loop_t* loop = LoopOf(env);
  if (loop == nullptr) {
    Napi::Error::New(env, "sigchld: this thread has no event loop").ThrowAsJavaScriptException();
    return nullptr;
  }
  watch = new SigchldWatch();
  watch->env = env;
  int err = uv_signal_init(loop, &watch->handle);
  if (err != 0) {
    delete watch;
    ThrowErrno(env, -err, "uv_signal_init");
    return nullptr;
  }
  watch->handle.data = watch;
  uv_unref(AsHandle(watch));
  napi_async_init(env, Napi::Object::New(env), Napi::String::New(env, "posix-fork:sigchld"),
                  &watch->context);
  CloseWithEnvironment<SigchldWatch>(env, watch);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_watches[env] = watch;
  return watch;
}

bool IsWatching(SigchldWatch* watch) {
  return watch != nullptr && uv_is_active(AsHandle(watch)) != 0;
}

}  // namespace

// sigchldStart(callback) -> true when watching began now, false when it was already on (the
// callback is replaced). The callback gets no arguments: SIGCHLD does not say which child.
static Napi::Value SigchldStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 1, 1) || !FunctionArg(info, 0, "callback")) return Napi::Value();
  SigchldWatch* watch = Obtain(env);
  if (watch == nullptr) return Napi::Value();
  bool was_watching = IsWatching(watch);
  ReleaseCallback(watch);
  napi_create_reference(env, info[0], 1, &watch->callback);
  if (!was_watching) {
    int err = uv_signal_start(&watch->handle, OnSigchld, SIGCHLD);
    if (err != 0) {
      ReleaseCallback(watch);
      return ThrowErrno(env, -err, "uv_signal_start");
    }
  }
  return Napi::Boolean::New(env, !was_watching);
}

// sigchldStop() -> true when it was watching.
static Napi::Value SigchldStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  SigchldWatch* watch = Find(env);
  bool was_watching = IsWatching(watch);
  if (watch != nullptr) {
    uv_signal_stop(&watch->handle);
    ReleaseCallback(watch);
  }
  return Napi::Boolean::New(env, was_watching);
}

// sigchldKeepAlive(on): whether the watch keeps the event loop alive while it is on.
static Napi::Value SigchldKeepAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool on;
  if (!CheckArity(info, 1, 1) || !BoolArg(info, 0, "on", &on)) return Napi::Value();
  SigchldWatch* watch = Obtain(env);
  if (watch == nullptr) return Napi::Value();
  watch->keep_alive = on;
  if (watch->keep_alive) {
    uv_ref(AsHandle(watch));
  } else {
    uv_unref(AsHandle(watch));
  }
  return env.Undefined();
}

// sigchldState() -> { watching, keepAlive }: for leak checks in tests and the stress script.
static Napi::Value SigchldState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  SigchldWatch* watch = Find(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("watching", Napi::Boolean::New(env, IsWatching(watch)));
  out.Set("keepAlive", Napi::Boolean::New(env, watch != nullptr && watch->keep_alive));
  return out;
}

void InitSigchld(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"sigchldStart", SigchldStart}, {"sigchldStop", SigchldStop},
                   {"sigchldKeepAlive", SigchldKeepAlive}, {"sigchldState", SigchldState}});
}

}  // namespace posixfork
