// The event loop as the native side sees it: the environment's loop, a monotonic clock, and
// calling a JS callback from a libuv callback the way Node calls its own.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstdint>

namespace posixfork {

// The loop of the environment's thread, or nullptr.
inline uv_loop_t* LoopOf(napi_env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return nullptr;
  return loop;
}

// Milliseconds on a monotonic clock.
inline uint64_t NowMs() { return uv_hrtime() / 1000000; }

// Calls `callback` with `argc` arguments (this = the global object) from a libuv callback:
// nextTicks and microtasks run afterwards, and an exception it throws is reported as
// uncaught, as for any Node callback.
void CallFromLoop(napi_env env, napi_async_context context, napi_ref callback, size_t argc,
                  const napi_value* argv);

// Ties a libuv handle to the life of its Node environment: when the environment is torn down
// (process exit, worker end), `owner->BeforeClose()` runs, the handle is closed so that the
// loop can be closed, and then `owner` is deleted. `Owner` holds the handle as `handle` (its
// `data` pointing back to the owner) and the hook as `cleanup`.
template <typename Owner>
struct EnvironmentBound {
  static void OnClosed(uv_handle_t* handle) {
    Owner* owner = static_cast<Owner*>(handle->data);
    napi_async_cleanup_hook_handle cleanup = owner->cleanup;
    delete owner;
    napi_remove_async_cleanup_hook(cleanup);
  }
  static void OnTeardown(napi_async_cleanup_hook_handle, void* arg) {
    Owner* owner = static_cast<Owner*>(arg);
    owner->BeforeClose();
    uv_close(reinterpret_cast<uv_handle_t*>(&owner->handle), OnClosed);
  }
};

template <typename Owner>
void CloseWithEnvironment(napi_env env, Owner* owner) {
  napi_add_async_cleanup_hook(env, EnvironmentBound<Owner>::OnTeardown, owner, &owner->cleanup);
}

}  // namespace posixfork
