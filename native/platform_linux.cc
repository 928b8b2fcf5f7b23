// Linux: find V8's MADV_DONTFORK areas ("dc" in /proc/self/smaps VmFlags) cheaply.
//
// Reading /proc/self/smaps costs 1.5-5 ms (the kernel walks page tables for its counters);
// /proc/self/maps costs ~0.1 ms but has no flags. So the last smaps scan is cached, and each
// fork reads only maps:
//  - an anonymous area exactly equal to a cached dc area is still V8's: shared for the fork
//    and marked DONTFORK again afterwards;
//  - an area inside a cached non-dc area is left alone;
//  - any other (new) area is "unknown". Unknown areas are simply marked DOFORK, which is always
//    safe for the child; the price is that a V8 area met this way stays copyable in the parent
//    (child_process.spawn copies its page tables). smaps is read again instead when the last
//    scan is over a second old or the unknown areas are large, so a busy parent pays for a
//    full scan at most about once a second.
// Never is an area marked DONTFORK that was not seen with that mark: marking memory that a
// spawn() child touches before exec would crash that child.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "platform.h"

namespace posixfork {

namespace {

struct KnownArea {
  uintptr_t start;
  uintptr_t end;
  bool dontfork;
};

std::vector<KnownArea> g_known;  // sorted by start
MemoryScanStats g_stats{0, 0, 0};
uint64_t g_last_full_scan_ms = 0;
constexpr uint64_t kRescanAfterMs = 1000;
constexpr uintptr_t kUnknownBytesForRescan = uintptr_t(64) << 20;

uint64_t NowMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return uint64_t(now.tv_sec) * 1000 + uint64_t(now.tv_nsec) / 1000000;
}

int ReadWholeFile(const char* path, std::string* out) {
  int fd;
  do {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
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

int FullScan() {
  std::string text;
  int err = ReadWholeFile("/proc/self/smaps", &text);
  if (err != 0) return err;
  std::vector<KnownArea> known;
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
    bool dontfork = false;
    for (const char* f = line + 8; f + 2 <= line_end; f++) {
      if (f[0] == 'd' && f[1] == 'c' && f[-1] == ' ' && (f + 2 == line_end || f[2] == ' ')) {
        dontfork = true;
      }
    }
    known.back().dontfork = dontfork;
    // Only anonymous areas come and go; file mappings are kept only when marked.
    if (!current_anonymous && !dontfork) known.pop_back();
  });
  g_known.swap(known);
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

// Classifies the anonymous areas in /proc/self/maps against the cache. Returns false when a
// full scan is needed; otherwise replaces the cache with the current areas, having marked the
// unknown ones DOFORK.
bool RefreshFromMaps(int* err) {
  std::string text;
  *err = ReadWholeFile("/proc/self/maps", &text);
  if (*err != 0) return false;
  std::vector<KnownArea> current, unknown;
  uintptr_t unknown_bytes = 0;
  ForEachLine(text, [&](const char* line, const char* line_end) {
    uintptr_t start, end;
    bool anonymous;
    if (!ParseHeader(line, line_end, &start, &end, &anonymous)) return;
    const KnownArea* known = Lookup(start, end);
    if (!anonymous) {
      // File mappings are kept in the cache only when they carry the mark.
      if (known != nullptr && known->dontfork && known->start == start && known->end == end) {
        current.push_back(*known);
      }
      return;
    }
    if (known != nullptr && (known->dontfork ? (known->start == start && known->end == end)
                                             : true)) {
      current.push_back(KnownArea{start, end, known->dontfork});
      return;
    }
    unknown.push_back(KnownArea{start, end, false});
    unknown_bytes += end - start;
  });
  if (!unknown.empty() && (unknown_bytes > kUnknownBytesForRescan ||
                           NowMs() - g_last_full_scan_ms > kRescanAfterMs)) {
    return false;
  }
  for (const KnownArea& area : unknown) {
    madvise(reinterpret_cast<void*>(area.start), area.end - area.start, MADV_DOFORK);
    current.push_back(area);
  }
  std::sort(current.begin(), current.end(),
            [](const KnownArea& x, const KnownArea& y) { return x.start < y.start; });
  g_known.swap(current);
  if (unknown.empty()) {
    g_stats.cache_hits++;
  } else {
    g_stats.unknown_areas += unknown.size();
  }
  return true;
}

}  // namespace

int ShareMemoryForFork(std::vector<MemoryRange>* changed) {
  changed->clear();
  int err = 0;
  if (g_known.empty() || !RefreshFromMaps(&err)) {
    if (err != 0) return err;
    err = FullScan();
    if (err != 0) return err;
  }
  for (const KnownArea& area : g_known) {
    if (!area.dontfork) continue;
    // ENOMEM means part of the range is gone (another thread unmapped it): nothing to share.
    madvise(reinterpret_cast<void*>(area.start), area.end - area.start, MADV_DOFORK);
    changed->push_back(MemoryRange{area.start, area.end});
  }
  return 0;
}

void RestoreMemoryAfterFork(const std::vector<MemoryRange>& changed) {
  for (const MemoryRange& range : changed) {
    madvise(reinterpret_cast<void*>(range.start), range.end - range.start, MADV_DONTFORK);
  }
}

MemoryScanStats GetMemoryScanStats() { return g_stats; }

int SetChildSubreaper(bool on) {
  return prctl(PR_SET_CHILD_SUBREAPER, on ? 1UL : 0UL, 0UL, 0UL, 0UL) == 0 ? 0 : errno;
}

}  // namespace posixfork
