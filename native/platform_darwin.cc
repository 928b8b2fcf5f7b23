// macOS: V8 does not mark its heap MADV_DONTFORK there (no such advice exists), so a fork
// child gets all memory; there is no child-subreaper facility.
#include <cerrno>

#include "platform.h"

namespace posixfork {

int ShareMemoryForFork() { return 0; }

void RestoreMemoryMarks() {}

void ForgetParentsMemoryWatch() {}

MemoryScanStats GetMemoryScanStats() { return MemoryScanStats{0, 0, 0, 0}; }

int SetChildSubreaper(bool) { return ENOSYS; }

int SetParentDeathSignal(int) { return ENOSYS; }

}  // namespace posixfork
