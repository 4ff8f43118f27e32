// Process and file statistics shared by /status and /metrics: resident
// memory, heap in use, and the on-disk size of the database.
//
// Thread-safety: free functions reading /proc and stat(2); safe anywhere.
#pragma once

#include <cstdint>
#include <string>

namespace lsh {

struct MemoryUsage {
  int64_t resident_bytes = 0;  // RSS from /proc/self/statm
  int64_t heap_bytes = 0;      // bytes in use on the malloc heap (mallinfo2)
};
MemoryUsage ProcessMemory();

// The size of a file, 0 when it does not exist.
int64_t FileSizeOrZero(const std::string& path);
// The database file plus its WAL: what the volume holds for it.
inline int64_t DatabaseSizeBytes(const std::string& db_path) {
  return FileSizeOrZero(db_path) + FileSizeOrZero(db_path + "-wal");
}

}  // namespace lsh
