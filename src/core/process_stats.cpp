#include "core/process_stats.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace lsh {

MemoryUsage ProcessMemory() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  struct mallinfo2 mi = mallinfo2();
  return {resident * sysconf(_SC_PAGESIZE), static_cast<int64_t>(mi.uordblks + mi.hblkhd)};
}

int64_t FileSizeOrZero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

}  // namespace lsh
