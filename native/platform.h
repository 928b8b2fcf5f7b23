// What differs between Linux and macOS. One implementation file per platform.
#pragma once
#include <cstdint>
#include <vector>

namespace posixfork {

// Node builds V8 so that its heap is madvise(MADV_DONTFORK) on Linux: a fork child would not
// get it. ShareMemoryForFork makes all memory copyable for the next fork() (returns 0 or
// errno); RestoreMemoryMarks puts V8's marks back, which keeps child_process.spawn cheap. The
// restore may come later (a burst of forks pays for it once); it does nothing if none is due.
int ShareMemoryForFork();
void RestoreMemoryMarks();
// In a fork child: closes the descriptor ShareMemoryForFork keeps open (Linux: the parent's
// /proc/self/statm), so that the child holds nothing the library opened for its parent.
void ForgetParentsMemoryWatch();

// How the list of marked areas was kept: full /proc/self/smaps scans, /proc/self/maps checks,
// checks (before a fork, or before the marks go back) answered by the cache alone, and new
// areas met without a scan, left unmarked (see platform_linux.cc).
struct MemoryScanStats {
  uint64_t full_scans;
  uint64_t maps_reads;
  uint64_t cache_hits;
  uint64_t unknown_areas;
};
MemoryScanStats GetMemoryScanStats();

// PR_SET_CHILD_SUBREAPER on Linux; ENOSYS elsewhere. Returns 0 or errno.
int SetChildSubreaper(bool on);

// PR_SET_PDEATHSIG on Linux (the caller gets `signal` when its parent dies); ENOSYS
// elsewhere. Returns 0 or errno.
int SetParentDeathSignal(int signal);

}  // namespace posixfork
