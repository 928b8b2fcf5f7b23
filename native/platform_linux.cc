// Linux: V8's MADV_DONTFORK areas ("dc" in /proc/self/smaps VmFlags), made copyable for the
// fork and marked again afterwards, cheaply.
//
// The child's safety does not depend on knowing the areas: before every fork, one madvise
// call per stretch of address space (the stretches between VM_IO mappings, which refuse the
// advice) makes every area copyable. Knowing the areas matters only for putting the mark back
// in the parent, which keeps child_process.spawn cheap. That list is a cache:
//  - /proc/self/smaps (costly: the kernel walks page tables for its counters) is read at the
//    first fork, and again when new anonymous areas show up over a second after the last scan
//    or add up to more than 64 MB;
//  - /proc/self/maps (cheap, no flags) is read when the address-space size in
//    /proc/self/statm (cheaper still) differs from the last reading, or a second has passed.
//    An area exactly equal to a cached dc area is still V8's and is marked again after the
//    fork; any other new area is "unknown" and stays copyable in the parent from then on.
// The marks are put back once forks pause (page_marks.cc), not after each fork, so that a
// burst of forks pays for the madvise calls once.
// An area is marked DONTFORK only if a scan saw the mark on it and it was seen unchanged
// within the last second: marking memory that a spawn() child touches before exec would crash
// that child.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fd_util.h"
#include "loop_util.h"
#include "platform.h"

namespace posixfork {

namespace {

struct KnownArea {
  uintptr_t start;
  uintptr_t end;
  bool dontfork;
};

struct Range {
  uintptr_t start;
  uintptr_t end;
};

std::vector<KnownArea> g_known;  // sorted by start
std::vector<Range> g_io;         // VM_IO areas (madvise refuses them), sorted by start
bool g_restore_due = false;
MemoryScanStats g_stats{0, 0, 0, 0};
uint64_t g_last_full_scan_ms = 0;
uint64_t g_last_refresh_ms = 0;
unsigned long long g_size_at_refresh = 0;  // /proc/self/statm "size" when the cache was checked
constexpr uint64_t kRescanAfterMs = 1000;
constexpr uint64_t kRefreshAfterMs = 1000;
constexpr uintptr_t kUnknownBytesForRescan = uintptr_t(64) << 20;

int OpenForReading(const char* path, int* fd) {
  *fd = RetryOnEintr([&] { return open(path, O_RDONLY | O_CLOEXEC); });
  return *fd < 0 ? errno : 0;
}

int ReadWholeFile(const char* path, std::string* out) {
  int fd;
  int err = OpenForReading(path, &fd);
  if (err != 0) return err;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      CloseQuietly(fd);
      return errno;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return 0;
}

// The total size of the address space in pages: any mmap or munmap changes it. Read before
// every fork through a descriptor kept open (a pread costs a fraction of an open+read+close);
// a read at offset 0 renders the file anew. /proc/self was resolved at the open, so a
// process that did not open it (a fork child) opens its own. The descriptor is used or closed
// only while it is still the file we opened: a program may close every descriptor (as the
// classic daemon recipe does), and the number may then be another file's.
struct StatmWatch {
  int fd = -1;
  pid_t pid = 0;
  dev_t dev = 0;
  ino_t ino = 0;
};
StatmWatch g_statm;

bool StatmFdIsOurs() {
  struct stat st;
  return g_statm.fd >= 0 && fstat(g_statm.fd, &st) == 0 && st.st_dev == g_statm.dev &&
         st.st_ino == g_statm.ino;
}

void ForgetStatm() {
  if (StatmFdIsOurs()) close(g_statm.fd);
  g_statm = StatmWatch{};
}

int ReadAddressSpaceSize(unsigned long long* pages) {
  pid_t self = getpid();
  if (g_statm.fd >= 0 && (g_statm.pid != self || !StatmFdIsOurs())) ForgetStatm();
  if (g_statm.fd < 0) {
    int fd;
    int err = OpenForReading("/proc/self/statm", &fd);
    if (err != 0) return err;
    struct stat st;
    if (fstat(fd, &st) != 0) {
      CloseQuietly(fd);
      return errno;
    }
    g_statm = StatmWatch{fd, self, st.st_dev, st.st_ino};
  }
  char buf[128];
  ssize_t n = RetryOnEintr([&] { return pread(g_statm.fd, buf, sizeof buf - 1, 0); });
  if (n < 0) return errno;
  buf[n] = '\0';
  *pages = strtoull(buf, nullptr, 10);
  return 0;
}

// Parses a maps/smaps header line "start-end perms offset dev inode   path".
// Returns false for lines that are not headers (smaps detail lines).
bool ParseHeader(const char* line, const char* line_end, uintptr_t* start, uintptr_t* end,
                 bool* anonymous) {
  char* p = nullptr;
  unsigned long long s = strtoull(line, &p, 16);
  if (p == line || p >= line_end || *p != '-') return false;
  const char* q = p + 1;
  unsigned long long e = strtoull(q, &p, 16);
  if (p == q || p >= line_end || *p != ' ') return false;
  // Skip perms, offset, dev, inode; what is left is the path (empty for anonymous memory).
  const char* cursor = p;
  for (int field = 0; field < 4; field++) {
    while (cursor < line_end && *cursor == ' ') cursor++;
    while (cursor < line_end && *cursor != ' ') cursor++;
  }
  while (cursor < line_end && *cursor == ' ') cursor++;
  *start = static_cast<uintptr_t>(s);
  *end = static_cast<uintptr_t>(e);
  *anonymous = cursor == line_end;
  return true;
}

template <typename Fn>
void ForEachLine(const std::string& text, Fn fn) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', end - p));
    if (nl == nullptr) nl = end;
    fn(p, nl);
    p = nl + 1;
  }
}

bool HasFlag(const char* flags, const char* flags_end, const char* flag) {
  for (const char* f = flags; f + 2 <= flags_end; f++) {
    if (f[0] == flag[0] && f[1] == flag[1] && f[-1] == ' ' &&
        (f + 2 == flags_end || f[2] == ' ')) {
      return true;
    }
  }
  return false;
}

int FullScan() {
  std::string text;
  int err = ReadWholeFile("/proc/self/smaps", &text);
  if (err != 0) return err;
  std::vector<KnownArea> known;
  std::vector<Range> io;
  bool current_anonymous = false;
  ForEachLine(text, [&](const char* line, const char* line_end) {
    uintptr_t start, end;
    bool anonymous;
    if (ParseHeader(line, line_end, &start, &end, &anonymous)) {
      current_anonymous = anonymous;
      known.push_back(KnownArea{start, end, false});
      return;
    }
    if (known.empty() || line_end - line < 8 || memcmp(line, "VmFlags:", 8) != 0) return;
    KnownArea& area = known.back();
    if (HasFlag(line + 8, line_end, "io")) io.push_back(Range{area.start, area.end});
    area.dontfork = HasFlag(line + 8, line_end, "dc");
    // Only anonymous areas come and go; file mappings are kept only when marked.
    if (!current_anonymous && !area.dontfork) known.pop_back();
  });
  g_known.swap(known);
  g_io.swap(io);
  g_stats.full_scans++;
  g_last_full_scan_ms = NowMs();
  return 0;
}

// The known area containing [start, end), or nullptr.
const KnownArea* Lookup(uintptr_t start, uintptr_t end) {
  auto it = std::upper_bound(g_known.begin(), g_known.end(), start,
                             [](uintptr_t s, const KnownArea& a) { return s < a.start; });
  if (it == g_known.begin()) return nullptr;
  --it;
  return (start >= it->start && end <= it->end) ? &*it : nullptr;
}

// Checks the cache against /proc/self/maps. Returns false when a full scan is needed;
// otherwise replaces the cache with the current areas (unknown ones as not marked).
bool RefreshFromMaps(int* err) {
  std::string text;
  *err = ReadWholeFile("/proc/self/maps", &text);
  if (*err != 0) return false;
  g_stats.maps_reads++;
  std::vector<KnownArea> current;
  size_t unknown_areas = 0;
  uintptr_t unknown_bytes = 0;
  ForEachLine(text, [&](const char* line, const char* line_end) {
    uintptr_t start, end;
    bool anonymous;
    if (!ParseHeader(line, line_end, &start, &end, &anonymous)) return;
    const KnownArea* known = Lookup(start, end);
    bool exact = known != nullptr && known->start == start && known->end == end;
    if (!anonymous) {
      // File mappings are kept in the cache only when they carry the mark.
      if (exact && known->dontfork) current.push_back(*known);
      return;
    }
    if (known != nullptr && (exact || !known->dontfork)) {
      current.push_back(KnownArea{start, end, known->dontfork});
      return;
    }
    current.push_back(KnownArea{start, end, false});
    unknown_areas++;
    unknown_bytes += end - start;
  });
  if (unknown_areas > 0 && (unknown_bytes > kUnknownBytesForRescan ||
                            NowMs() - g_last_full_scan_ms > kRescanAfterMs)) {
    return false;
  }
  g_known.swap(current);
  g_stats.unknown_areas += unknown_areas;
  return true;
}

// Brings the cache up to date when the address space may have changed since it was checked.
// `allow_full_scan`: false after a fork, when marks are already gone and smaps would not tell.
int RefreshKnownAreas(bool allow_full_scan, bool* current) {
  unsigned long long size = 0;
  int err = ReadAddressSpaceSize(&size);
  if (err != 0) return err;
  uint64_t now = NowMs();
  *current = true;
  if (!g_known.empty() && size == g_size_at_refresh && now - g_last_refresh_ms < kRefreshAfterMs) {
    g_stats.cache_hits++;
    return 0;
  }
  if (g_known.empty() || !RefreshFromMaps(&err)) {
    if (err != 0) return err;
    if (!allow_full_scan) {
      *current = false;
      return 0;
    }
    err = FullScan();
    if (err != 0) return err;
  }
  g_size_at_refresh = size;
  g_last_refresh_ms = now;
  return 0;
}

// MADV_DOFORK over the whole address space, skipping VM_IO areas. Holes make madvise report
// ENOMEM after it has handled every area in the range; EINVAL means an unknown VM_IO area.
int ShareEverything() {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t top = sizeof(uintptr_t) == 8 ? static_cast<uintptr_t>(1) << 56 : ~(page - 1);
  uintptr_t from = page;
  auto share = [&](uintptr_t to) {
    if (to <= from) return 0;
    return madvise(reinterpret_cast<void*>(from), to - from, MADV_DOFORK) == 0 || errno == ENOMEM
               ? 0
               : errno;
  };
  for (const Range& io : g_io) {
    int err = share(io.start);
    if (err != 0) return err;
    from = std::max(from, io.end);
  }
  return share(top);
}

}  // namespace

int ShareMemoryForFork() {
  bool current;
  int err = RefreshKnownAreas(true, &current);
  if (err != 0) return err;
  err = ShareEverything();
  if (err == EINVAL) {  // a new I/O mapping: learn where it is
    err = FullScan();
    if (err == 0) err = ShareEverything();
  }
  if (err != 0) return err;
  g_restore_due = true;
  return 0;
}

void RestoreMemoryMarks() {
  if (!g_restore_due) return;
  g_restore_due = false;
  // Checked again: the layout may have changed since the fork. When it changed too much for
  // /proc/self/maps to tell, the marks stay off until the next fork's scan.
  bool current = false;
  if (RefreshKnownAreas(false, &current) != 0 || !current) return;
  for (const KnownArea& area : g_known) {
    if (!area.dontfork) continue;
    madvise(reinterpret_cast<void*>(area.start), area.end - area.start, MADV_DONTFORK);
  }
}

void ForgetParentsMemoryWatch() {
  if (g_statm.fd >= 0) ForgetStatm();
}

MemoryScanStats GetMemoryScanStats() { return g_stats; }

int ReserveFileSpace(int fd, int64_t bytes) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return 0;
  int r = RetryOnEintr([&] { return fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, bytes); });
  if (r == 0 || errno == EOPNOTSUPP || errno == ENOSYS) return 0;
  return errno;
}

int SetChildSubreaper(bool on) {
  return prctl(PR_SET_CHILD_SUBREAPER, on ? 1UL : 0UL, 0UL, 0UL, 0UL) == 0 ? 0 : errno;
}

int SetParentDeathSignal(int sig) {
  return prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(sig), 0UL, 0UL, 0UL) == 0 ? 0 : errno;
}

}  // namespace posixfork
