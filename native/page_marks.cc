// The restore timer is native, so that no JS runs for it in the parent or in a child (a child
// inherits the timer with the loop and stops it). A fork only notes its time; the timer,
// started by the first fork of a burst, waits until the latest fork is old enough, because
// restarting it on every fork would write to the loop's timer heap, pages that the fork had
// just made copy-on-write.
#include "page_marks.h"

#include <cstdint>

#include "args.h"
#include "loop_util.h"
#include "module_init.h"
#include "platform.h"

namespace posixfork {

namespace {

constexpr uint64_t kRestoreMarksAfterMs = 50;
uint64_t g_last_fork_ms = 0;

struct RestoreTimer {
  uv_timer_t handle;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  void BeforeClose();
};

RestoreTimer* g_restore_timer = nullptr;

void OnRestoreTimer(uv_timer_t* handle) {
  uint64_t since = NowMs() - g_last_fork_ms;
  if (since < kRestoreMarksAfterMs) {
    uv_timer_start(handle, OnRestoreTimer, kRestoreMarksAfterMs - since, 0);
    return;
  }
  RestoreMemoryMarks();
}

void RestoreTimer::BeforeClose() { g_restore_timer = nullptr; }

}  // namespace

void RestoreMarksWhenForksPause(napi_env env, uv_loop_t* loop) {
  if (g_restore_timer == nullptr) {
    RestoreTimer* timer = new RestoreTimer();
    if (uv_timer_init(loop, &timer->handle) != 0) {
      delete timer;
      RestoreMemoryMarks();
      return;
    }
    timer->handle.data = timer;
    uv_unref(reinterpret_cast<uv_handle_t*>(&timer->handle));
    CloseWithEnvironment(env, timer);
    g_restore_timer = timer;
  }
  g_last_fork_ms = NowMs();
  uv_timer_t* handle = &g_restore_timer->handle;
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(handle))) {
    uv_timer_start(handle, OnRestoreTimer, kRestoreMarksAfterMs, 0);
  }
}

void StopRestoreTimerInChild() {
  if (g_restore_timer != nullptr) uv_timer_stop(&g_restore_timer->handle);
}

// memoryScanStats() -> how the list of marked areas was kept (see platform.h).
static Napi::Value MemoryScanStatsJs(const Napi::CallbackInfo& info) {
  if (!CheckArity(info, 0, 0)) return Napi::Value();
  MemoryScanStats stats = GetMemoryScanStats();
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("fullScans", Napi::Number::New(env, static_cast<double>(stats.full_scans)));
  out.Set("mapsReads", Napi::Number::New(env, static_cast<double>(stats.maps_reads)));
  out.Set("cacheHits", Napi::Number::New(env, static_cast<double>(stats.cache_hits)));
  out.Set("unknownAreas", Napi::Number::New(env, static_cast<double>(stats.unknown_areas)));
  return out;
}

void InitPageMarks(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"memoryScanStats", MemoryScanStatsJs}});
}

}  // namespace posixfork
