// SIGCHLD watching for the Reaper (filled in by the reaping work).
#include "areas.h"

namespace posixfork {

void InitSigchld(Napi::Env, Napi::Object) {}

}  // namespace posixfork
