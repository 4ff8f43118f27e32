// Process: runs one job command as a child process and reports how it ended.
//
// Each run is `/bin/sh -c <command>` spawned with posix_spawn (vfork-fast) in
// its own process group, stdin on /dev/null, the job's env merged over the
// daemon's, the job's cwd, and no daemon file descriptor above 2. One runner
// thread per Process drains stdout and stderr through nonblocking pipes into
// per-stream append-only log files (keeping the last `tail_bytes` of each in
// memory), waits for the child's exit on a pidfd in the same poll(), enforces
// the timeout (SIGTERM to the group, SIGKILL after `kill_grace`), reaps the
// child, kills whatever is left of its group, and then calls `on_done` once.
// No SIGCHLD handler is installed and no waitpid(-1) is used, so other code's
// waitpid keeps working.
//
// The free functions at the bottom serve crash recovery: they act on a
// process group id recorded by an earlier daemon.
//
// Requirements on the rest of the daemon: SIGCHLD must not be ignored (the
// kernel would then reap children itself), and the environment must not be
// changed with setenv() while runs start (Start() reads `environ`).
//
// Thread-safety: every public method of Process may be called from any thread
// at any time, including after the child ended. `on_done` runs on the
// runner's own thread; it must not call Wait() on its own Process (it would
// wait for itself). The free functions are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace lsh::exec {

struct ProcessSpec {
  std::string command;  // run as `/bin/sh -c command`; must not be empty
  // Added to, or overriding, the daemon's own environment (the child sees
  // the daemon's environment with these on top).
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;  // empty: the daemon's cwd. Must be an existing directory.
  // Log files, opened O_APPEND and created (with parent dirs) when missing.
  // Empty: that stream is not written anywhere but its tail is still kept.
  std::string stdout_path;
  std::string stderr_path;
  std::chrono::milliseconds timeout{0};  // 0: none
  // Between the polite signal (timeout's SIGTERM, or Stop's) and SIGKILL to
  // the group. Longer lets jobs clean up; shorter frees slots sooner.
  std::chrono::milliseconds kill_grace{5000};
  // How much of the end of each stream is kept for the outcome. Memory per
  // run is about 2x this per stream.
  size_t tail_bytes = 64 * 1024;
};

struct ProcessOutcome {
  enum class End {
    kExited,       // the shell exited on its own: exit_code is set
    kSignaled,     // the shell died of a signal nobody here sent: signal is set
    kTimedOut,     // spec.timeout ran out and the group was signalled
    kStopped,      // Stop() was called before the shell ended
    kSpawnFailed,  // nothing ran: error says why (bad cwd, log file, ...)
  };
  End end = End::kSpawnFailed;
  int exit_code = -1;  // WEXITSTATUS when the shell exited, else -1
  int signal = 0;      // WTERMSIG when the shell was killed by a signal, else 0
  pid_t pid = 0;       // also the process group id; 0 when spawning failed
  SysTime started_at{};
  SysTime ended_at{};
  std::chrono::milliseconds duration{0};
  std::string stdout_tail;
  std::string stderr_tail;
  std::string error;  // spawn failure (or log write failure) message
};

const char* EndName(ProcessOutcome::End end);  // "exited", "signaled", ...

class Process {
 public:
  using OnDone = std::function<void(const ProcessOutcome&)>;

  // Spawns the child and starts the runner thread; returns once the child
  // exists (pid() known). A failure to spawn (bad cwd, unopenable log file,
  // exec failure, out of fds) is NOT an Error here: it is delivered like any
  // other end, as an outcome with End::kSpawnFailed through on_done, so the
  // caller has one completion path. An Error is returned only for an invalid
  // spec (empty command) or when no runner thread could be started; then
  // on_done is never called. `clock` must outlive the Process's run.
  static Result<std::shared_ptr<Process>> Start(ProcessSpec spec, const Clock& clock,
                                                OnDone on_done);

  // Joins the runner unless called on it. Dropping the last reference while
  // the child runs does not block: the runner keeps the object alive.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }  // 0 if spawning failed

  // Sends `signal` to the whole group, then SIGKILL after spec.kill_grace;
  // the outcome says kStopped. Safe from any thread, twice (a later call
  // sends its signal too; the grace deadline is the first one's), or after
  // the child ended (then it does nothing).
  void Stop(int signal);

  // True once on_done has returned; false if `timeout` passed first.
  bool Wait(std::chrono::milliseconds timeout);
  bool done() const;

 private:
  struct PrivateTag {};

 public:
  Process(PrivateTag, ProcessSpec spec, const Clock& clock, OnDone on_done);

 private:
  void Spawn();  // sets pid_ or spawn_error_; called once before the thread
  void Run();    // the runner thread
  void RunChild(ProcessOutcome& out);

  // Constant after construction.
  const ProcessSpec spec_;
  const Clock& clock_;
  const OnDone on_done_;

  // Written by Spawn() on the starting thread before the runner exists and
  // before Start() returns; read-only afterwards.
  pid_t pid_ = 0;
  std::string spawn_error_;
  SysTime started_at_{};
  SteadyTime started_steady_{};
  int wake_fd_ = -1;  // eventfd: Stop() pokes the runner; closed by ~Process

  // Opened by Spawn(), then owned by the runner thread, which closes them.
  int pidfd_ = -1;  // -1 without pidfd support: the runner then checks waitid
  int stdout_rd_ = -1;
  int stderr_rd_ = -1;
  int stdout_log_ = -1;
  int stderr_log_ = -1;

  // Set once by Start(); joined or detached by ~Process.
  std::thread thread_;

  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<int> pending_signals_;  // from Stop(), for the runner to send
  bool exited_ = false;               // the runner saw the child end; Stop() is a no-op
  bool done_ = false;                 // on_done has returned
};

// True when any process of group `pgid` still exists (kill(-pgid, 0)
// succeeds or fails with EPERM). False for pgid <= 1.
bool ProcessGroupAlive(pid_t pgid);

// Sends `sig` to every process of group `pgid`; a gone group is not an
// error. Does nothing for pgid <= 1 (kill(-1) would hit every process).
void KillProcessGroup(pid_t pgid, int sig);

// "SIGTERM", "TERM", "sigterm" or "15" -> 15. Unknown names and numbers
// outside 1..SIGRTMAX -> Error::Invalid with field "signal".
Result<int> ParseSignalName(std::string_view name);

// 15 -> "SIGTERM"; real-time signals -> "SIGRTMIN+n"; others -> "SIG<n>".
std::string SignalName(int sig);

}  // namespace lsh::exec
