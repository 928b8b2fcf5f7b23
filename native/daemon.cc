// Calls only daemonize() needs (filled in by the daemon work).
#include "areas.h"

namespace posixfork {

void InitDaemon(Napi::Env, Napi::Object) {}

}  // namespace posixfork
