// `lshd backup PATH` and `lshd check`: operator commands that work on the
// database file itself (--db PATH, else LSH_DB_PATH, else
// volumes/data/lsh.db), not over HTTP, so they work while the daemon is down
// as well as beside a running one (store/maintenance.h).
//
// Exit status:
//   backup: 0 the copy is written and verified, 1 it failed (nothing is left
//           at PATH), 2 usage error.
//   check:  0 sound (warnings may be printed), 1 problems found, 2 usage
//           error or the database cannot be opened.
//
// Thread-safety: run on the main thread of a short-lived process.
#pragma once

#include <string>
#include <vector>

namespace lsh::app {

int BackupCommand(const std::vector<std::string>& args);
int CheckCommand(const std::vector<std::string>& args);

}  // namespace lsh::app
