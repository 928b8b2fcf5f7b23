// macOS: V8 does not mark its heap MADV_DONTFORK there (no such advice exists), so a fork
// child gets all memory; there is no child-subreaper facility.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "platform.h"

namespace posixfork {

int ShareMemoryForFork() { return 0; }

void RestoreMemoryMarks() {}

void ForgetParentsMemoryWatch() {}

MemoryScanStats GetMemoryScanStats() { return MemoryScanStats{0, 0, 0, 0}; }

int ReserveFileSpace(int fd, int64_t bytes) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return 0;
  fstore_t store = {F_ALLOCATEALL, F_PEOFPOSMODE, 0, static_cast<off_t>(bytes), 0};
  if (fcntl(fd, F_PREALLOCATE, &store) == 0 || errno == ENOTSUP) return 0;
  return errno;
}

int SetChildSubreaper(bool) { return ENOSYS; }

int SetParentDeathSignal(int) { return ENOSYS; }

}  // namespace posixfork
