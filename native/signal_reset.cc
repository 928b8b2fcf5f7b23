#include "signal_reset.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <vector>

#include "args.h"
#include "errno.h"
#include "module_init.h"

#ifndef NSIG
#define NSIG 65
#endif

namespace posixfork {

const int kNodeIgnoredSignals[] = {SIGPIPE, SIGXFSZ};
const size_t kNodeIgnoredSignalCount = sizeof kNodeIgnoredSignals / sizeof kNodeIgnoredSignals[0];

static bool Listed(int sig, const int* list, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (list[i] == sig) return true;
  }
  return false;
}

int ResetSignalDispositions(const int* keep_ignored, size_t keep_count, bool reset_handlers,
                            void (*on_reset)(int sig, void* data), void* data) {
  sigset_t empty;
  sigemptyset(&empty);
  int err = pthread_sigmask(SIG_SETMASK, &empty, nullptr);
  if (err != 0) return err;
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) continue;  // EINVAL: reserved by libc
    bool ignored = !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN;
    bool caught = (current.sa_flags & SA_SIGINFO) ||
                  (current.sa_handler != SIG_IGN && current.sa_handler != SIG_DFL);
    bool reset = ignored ? !Listed(sig, keep_ignored, keep_count) : caught && reset_handlers;
    if (reset && sigaction(sig, &dfl, nullptr) == 0 && on_reset != nullptr) on_reset(sig, data);
  }
  return 0;
}

// resetSignalState(keepIgnored) -> the signals put back to SIG_DFL. Empties this thread's
// signal mask and resets every ignored signal except those in keepIgnored. Handlers are left
// alone: they are Node's and libuv's, and they serve the JS listeners the process keeps.
static Napi::Value ResetSignalState(const Napi::CallbackInfo& info) {
  std::vector<int> keep;
  if (!CheckArity(info, 1, 1) || !IntArrayArg(info, 0, "keepIgnored", 1, NSIG - 1, &keep)) {
    return Napi::Value();
  }
  std::vector<int> reset;
  int err = ResetSignalDispositions(
      keep.data(), keep.size(), false,
      [](int sig, void* list) { static_cast<std::vector<int>*>(list)->push_back(sig); }, &reset);
  if (err != 0) return ThrowErrno(info.Env(), err, "pthread_sigmask");
  Napi::Array out = Napi::Array::New(info.Env(), reset.size());
  for (size_t i = 0; i < reset.size(); i++) {
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), reset[i]));
  }
  return out;
}

void InitSignalReset(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"resetSignalState", ResetSignalState}});
  Napi::Array ignored = Napi::Array::New(env, kNodeIgnoredSignalCount);
  for (size_t i = 0; i < kNodeIgnoredSignalCount; i++) {
    ignored.Set(static_cast<uint32_t>(i), Napi::Number::New(env, kNodeIgnoredSignals[i]));
  }
  exports.Set("nodeIgnoredSignals", ignored);
}

}  // namespace posixfork
