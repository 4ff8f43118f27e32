// The command-line client: `lshd status`, `lshd jobs`, `lshd add`, … talk
// HTTP to a running daemon (API.md) and print aligned tables for people or,
// with --json, the daemon's JSON for scripts. The daemon is found through
// --url / LSH_API_URL (default http://127.0.0.1:3030) and authenticated with
// --api-key / LSH_API_KEY.
//
// Exit status, the same for every client subcommand:
//   0  done
//   1  the daemon answered with an error (a 4xx or 5xx; its message is printed)
//   2  usage error, or the daemon could not be reached (with a hint)
//
// Thread-safety: Dispatch runs on the main thread of a short-lived process.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lsh::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDaemonError = 1;
inline constexpr int kExitUsage = 2;

// Runs `lshd <cmd> <args…>` when `cmd` is a client subcommand and returns
// its exit status; nullopt when `cmd` is not one (serve, migrate, …).
std::optional<int> Dispatch(const std::string& cmd, const std::vector<std::string>& args);

// The client commands' section of `lshd --help`.
const char* UsageText();

// "90s", "5m", "1h30m", "2d", "500ms", or plain seconds ("45") in
// milliseconds; nullopt when the text is not a duration.
std::optional<long long> ParseDurationMs(const std::string& text);

}  // namespace lsh::cli
