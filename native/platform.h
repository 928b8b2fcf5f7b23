// What differs between Linux and macOS. One implementation file per platform.
#pragma once
#include <cstdint>
#include <vector>

namespace posixfork {

struct MemoryRange {
  uintptr_t start;
  uintptr_t end;
};

// Node builds V8 so that its heap is madvise(MADV_DONTFORK) on Linux: a fork child would not
// get it. Marks every such area copyable for the next fork() and returns the ones it changed,
// so the parent can put the mark back (keeping child_process.spawn cheap). Returns 0 or errno.
int ShareMemoryForFork(std::vector<MemoryRange>* changed);
void RestoreMemoryAfterFork(const std::vector<MemoryRange>& changed);

// How ShareMemoryForFork kept its list of marked areas: full /proc/self/smaps scans,
// /proc/self/maps checks, forks prepared from the cache alone, and new areas met without a
// scan, left unmarked (see platform_linux.cc).
struct MemoryScanStats {
  uint64_t full_scans;
  uint64_t maps_reads;
  uint64_t cache_hits;
  uint64_t unknown_areas;
};
MemoryScanStats GetMemoryScanStats();

// PR_SET_CHILD_SUBREAPER on Linux; ENOSYS elsewhere. Returns 0 or errno.
int SetChildSubreaper(bool on);

}  // namespace posixfork
