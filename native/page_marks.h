// V8's MADV_DONTFORK marks on the parent's memory: lifted for each fork (platform.h), put back
// by a native timer once forks pause.
#pragma once
#include <napi.h>
#include <uv.h>

namespace posixfork {

// In the parent after a fork: the marks go back once the latest fork is kRestoreMarksAfterMs
// old (a burst of forks pays for the restore once).
void RestoreMarksWhenForksPause(napi_env env, uv_loop_t* loop);

// In a fork child: the inherited timer is the parent's business; it stops here.
void StopRestoreTimerInChild();

}  // namespace posixfork
