// Who sent a signal: si_code and si_pid of each delivery, which Node's process.on(signal)
// does not pass on (`posix-fork reap` tells a terminal's Ctrl-C from a kill(2) with them).
//
// Not a handler of its own: libuv's handler (installed by a process.on() listener) wakes the
// event loop and runs the listeners. signalInfoWatch() wraps it: an SA_SIGINFO handler that
// records the delivery and then calls libuv's, so every listener call has one record, in
// order. The policy (whom to believe, what to forward) lives in src/cli/reap.ts.
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <climits>

#include "args.h"
#include "errno.h"
#include "module_init.h"

namespace posixfork {

namespace {

// Deliveries kept per signal until JS takes them; a listener takes one per call.
constexpr unsigned kSlots = 32;
constexpr int kMaxSignal = NSIG;

struct Slot {
  std::atomic<int> code{0};
  std::atomic<int> pid{0};
  std::atomic<bool> ready{false};
};

struct Watch {
  struct sigaction wrapped;  // written only while this file's handler is not installed
  std::atomic<unsigned> head{0};
  unsigned tail = 0;  // JS thread only
  Slot slots[kSlots];
};

Watch g_watches[kMaxSignal];

// Async-signal-safe: lock-free atomics, then the wrapped handler. errno is kept for the
// interrupted code.
void OnSignal(int signo, siginfo_t* info, void* context) {
  int saved = errno;
  Watch& watch = g_watches[signo];
  unsigned at = watch.head.fetch_add(1);
  Slot& slot = watch.slots[at % kSlots];
  slot.code.store(info != nullptr ? info->si_code : 0, std::memory_order_relaxed);
  slot.pid.store(info != nullptr ? static_cast<int>(info->si_pid) : 0, std::memory_order_relaxed);
  slot.ready.store(true, std::memory_order_release);
  const struct sigaction& wrapped = watch.wrapped;
  errno = saved;
  if (wrapped.sa_flags & SA_SIGINFO) {
    wrapped.sa_sigaction(signo, info, context);
  } else if (wrapped.sa_handler != SIG_DFL && wrapped.sa_handler != SIG_IGN) {
    wrapped.sa_handler(signo);
  }
  errno = saved;
}

bool IsOurs(const struct sigaction& action) {
  return (action.sa_flags & SA_SIGINFO) && action.sa_sigaction == OnSignal;
}

bool SignalArg(const Napi::CallbackInfo& info, int* out) {
  int64_t signo;
  if (!CheckArity(info, 1, 1) || !IntArg(info, 0, "signal", 1, kMaxSignal - 1, &signo)) return false;
  *out = static_cast<int>(signo);
  return true;
}

// The signal argument and its current action. False with a JS exception pending.
bool SignalAndAction(const Napi::CallbackInfo& info, int* signo, struct sigaction* current) {
  if (!SignalArg(info, signo)) return false;
  if (sigaction(*signo, nullptr, current) == 0) return true;
  ThrowErrno(info.Env(), errno, "sigaction");
  return false;
}

}  // namespace

// signalInfoWatch(signal) -> true when the signal's handler records its deliveries (now or
// already), false when there is no handler to wrap (no process.on() listener yet).
static Napi::Value SignalInfoWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signo;
  struct sigaction current;
  if (!SignalAndAction(info, &signo, &current)) return Napi::Value();
  if (IsOurs(current)) return Napi::Boolean::New(env, true);
  bool handled = (current.sa_flags & SA_SIGINFO) ||
                 (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
  if (!handled) return Napi::Boolean::New(env, false);
  Watch& watch = g_watches[signo];
  watch.wrapped = current;
  watch.tail = watch.head.load();
  struct sigaction ours = current;
  ours.sa_flags |= SA_SIGINFO;
  ours.sa_sigaction = OnSignal;
  if (sigaction(signo, &ours, nullptr) != 0) return ThrowErrno(env, errno, "sigaction");
  return Napi::Boolean::New(env, true);
}

// signalInfoUnwatch(signal) -> true when the wrapped handler was put back; false when this
// file's handler was not installed (never watched, or replaced since).
static Napi::Value SignalInfoUnwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signo;
  struct sigaction current;
  if (!SignalAndAction(info, &signo, &current)) return Napi::Value();
  if (!IsOurs(current)) return Napi::Boolean::New(env, false);
  if (sigaction(signo, &g_watches[signo].wrapped, nullptr) != 0) {
    return ThrowErrno(env, errno, "sigaction");
  }
  return Napi::Boolean::New(env, true);
}

// signalInfoTake(signal) -> [si_code, si_pid] of the oldest delivery not taken yet, or null.
static Napi::Value SignalInfoTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signo;
  if (!SignalArg(info, &signo)) return Napi::Value();
  Watch& watch = g_watches[signo];
  unsigned head = watch.head.load();
  // More deliveries than slots since the last take: the oldest were overwritten.
  if (head - watch.tail > kSlots) watch.tail = head - kSlots;
  if (watch.tail == head) return env.Null();
  Slot& slot = watch.slots[watch.tail % kSlots];
  if (!slot.ready.load(std::memory_order_acquire)) return env.Null();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, slot.code.load(std::memory_order_relaxed)));
  out.Set(1u, Napi::Number::New(env, slot.pid.load(std::memory_order_relaxed)));
  slot.ready.store(false, std::memory_order_relaxed);
  watch.tail++;
  return out;
}

void InitSiginfo(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"signalInfoWatch", SignalInfoWatch},
                   {"signalInfoUnwatch", SignalInfoUnwatch},
                   {"signalInfoTake", SignalInfoTake}});
  // The si_code values of a signal sent by a process (kill(2), sigqueue(3), tgkill(2)).
  ExportConstants(env, exports, "signalSenderCodes",
                  {{"SI_USER", SI_USER},
                   {"SI_QUEUE", SI_QUEUE},
#ifdef SI_TKILL
                   {"SI_TKILL", SI_TKILL},
#endif
                  });
}

}  // namespace posixfork
