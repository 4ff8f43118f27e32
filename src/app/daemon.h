// The daemon's wiring: opens and migrates the database, starts the writer,
// the HTTP server and the background loops, waits for SIGTERM/SIGINT, and
// shuts down in order (stop accepting, finish in-flight requests, stop the
// loops, checkpoint and close the database).
//
// Thread-safety: Serve and MigrateCommand run on the main thread.
#pragma once

#include <string>
#include <vector>

namespace lsh::app {

// `lshd serve`: returns the process exit status (0 after a clean shutdown,
// 1 when the database cannot be opened or migrated, 2 for bad configuration).
int Serve(const std::vector<std::string>& args);
// `lshd migrate`: applies migrations and prints what it did.
int MigrateCommand(const std::vector<std::string>& args);

}  // namespace lsh::app
