// What a fork child needs so that its JavaScript keeps running and its end ends it.
#pragma once
#include <uv.h>

namespace posixfork {

// The child's first steps after fork(), once uv_loop_fork() has given it its own loop: it
// drops what belongs to the parent, starts its end-of-loop watch and makes its stdio pipes
// blocking. Native, so that the child compiles and runs no JS for it.
void RepairChildAfterFork(uv_loop_t* loop);

}  // namespace posixfork
