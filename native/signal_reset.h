// What a daemon, or a program run in place of Node, gets back of the signal state: the one
// definition, used by resetSignalState() (the TypeScript paths) and by spawnDetached()'s
// re-executed daemon alike.
#pragma once
#include <cstddef>

namespace posixfork {

// The signals Node ignores itself from startup (SIGPIPE, SIGXFSZ). A Node process keeps them
// ignored; a program that is not Node expects their default action.
extern const int kNodeIgnoredSignals[];
extern const size_t kNodeIgnoredSignalCount;

// Empties the calling thread's signal mask and puts every ignored signal not in `keep_ignored`
// back to SIG_DFL; with `reset_handlers`, caught signals too. SIGKILL and SIGSTOP are left
// alone. Async-signal-safe: no allocation. Calls `on_reset(sig)` for each signal reset.
// Returns 0 or the errno of the mask change.
int ResetSignalDispositions(const int* keep_ignored, size_t keep_count, bool reset_handlers,
                            void (*on_reset)(int sig, void* data), void* data);

}  // namespace posixfork
