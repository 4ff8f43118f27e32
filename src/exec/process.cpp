#include "exec/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

namespace lsh::exec {

namespace {

std::string Errno(int err) {
  return std::strerror(err);
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Opens a log file for appending, creating it and its parent directories.
int OpenLog(const std::string& path, std::string& error) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    error = "cannot create log directory \"" + parent.string() + "\": " + ec.message();
    return -1;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) error = "cannot open log file \"" + path + "\": " + Errno(errno);
  return fd;
}

// Creates a log file's directory if needed and checks it is a writable
// directory; returns an error message or "".
std::string CheckLogDir(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!std::filesystem::is_directory(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return "cannot create log directory \"" + parent.string() + "\": " + ec.message();
  }
  if (::access(parent.c_str(), W_OK) != 0)
    return "cannot open log file \"" + path + "\": " + Errno(errno);
  if (std::filesystem::is_directory(path, ec))
    return "cannot open log file \"" + path + "\": it is a directory";
  return "";
}

// The last `cap` bytes of a stream. Appends are amortized O(n): the buffer
// grows to 2*cap before its front is cut.
class Tail {
 public:
  explicit Tail(size_t cap) : cap_(cap) {}
  void Append(const char* p, size_t n) {
    if (cap_ == 0) return;
    if (n >= cap_) {
      buf_.assign(p + n - cap_, cap_);
      return;
    }
    buf_.append(p, n);
    if (buf_.size() > 2 * cap_) buf_.erase(0, buf_.size() - cap_);
  }
  std::string Take() {
    if (buf_.size() > cap_) buf_.erase(0, buf_.size() - cap_);
    return std::move(buf_);
  }

 private:
  size_t cap_;
  std::string buf_;
};

// One output stream of the child: pipe read end -> log file + tail.
struct Stream {
  int& rd;
  int& log;  // opened on the first output: a run that prints nothing creates no file
  const char* name = nullptr;
  const std::string& path;
  Tail tail;
  bool log_failed = false;

  // Reads what is available, up to max_reads chunks. Closes rd at EOF.
  void Drain(char* buf, size_t buf_size, int max_reads, std::string& error) {
    for (int i = 0; rd >= 0 && i < max_reads; ++i) {
      ssize_t n = ::read(rd, buf, buf_size);
      if (n > 0) {
        Consume(buf, static_cast<size_t>(n), error);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      CloseFd(rd);  // EOF or a real error: nothing more will come
    }
  }

  void Consume(const char* p, size_t n, std::string& error) {
    tail.Append(p, n);
    if (log_failed || path.empty()) return;
    if (log < 0) {
      std::string open_error;
      log = OpenLog(path, open_error);
      if (log < 0) {
        log_failed = true;
        if (error.empty()) error = open_error;
        return;
      }
    }
    while (n > 0) {
      ssize_t w = ::write(log, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        log_failed = true;
        if (error.empty()) {
          error = std::string("writing ") + name + " log \"" + path +
                  "\" failed: " + Errno(w < 0 ? errno : EIO);
        }
        return;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
};

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// Signals the child gets at their default disposition even when the daemon
// ignores or blocks them (a daemon commonly ignores SIGPIPE).
void FillDefaultSignals(sigset_t* set) {
  sigemptyset(set);
  for (int s : {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM,
                SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ, SIGXCPU}) {
    sigaddset(set, s);
  }
}

std::vector<std::string> MergedEnv(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden =
        std::any_of(extra.begin(), extra.end(), [&](const auto& p) { return p.first == key; });
    if (!overridden) out.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) {
    std::string kv = k;
    kv += '=';
    kv += v;
    out.push_back(std::move(kv));
  }
  return out;
}

std::string CheckCwd(const std::string& cwd) {
  if (cwd.empty()) return {};
  struct stat st {};
  if (::stat(cwd.c_str(), &st) != 0) {
    return "working directory \"" + cwd + "\" is not usable: " + Errno(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "working directory \"" + cwd + "\" is not a directory";
  if (::access(cwd.c_str(), X_OK) != 0) {
    return "working directory \"" + cwd + "\" is not accessible: " + Errno(errno);
  }
  return {};
}

}  // namespace

const char* EndName(ProcessOutcome::End end) {
  switch (end) {
    case ProcessOutcome::End::kExited:
      return "exited";
    case ProcessOutcome::End::kSignaled:
      return "signaled";
    case ProcessOutcome::End::kTimedOut:
      return "timed_out";
    case ProcessOutcome::End::kStopped:
      return "stopped";
    case ProcessOutcome::End::kSpawnFailed:
      return "spawn_failed";
  }
  return "unknown";
}

Result<std::shared_ptr<Process>> Process::Start(ProcessSpec spec, const Clock& clock,
                                                OnDone on_done) {
  if (spec.command.empty()) return Error::Invalid("command must not be empty", "command");
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
      return Error::Invalid("environment variable name \"" + k + "\" is not valid", "env");
    }
  }
  auto p = std::make_shared<Process>(PrivateTag{}, std::move(spec), clock, std::move(on_done));
  p->Spawn();
  try {
    p->thread_ = std::thread([p] { p->Run(); });
  } catch (const std::system_error& e) {
    if (p->pid_ > 0) {
      ::kill(-p->pid_, SIGKILL);  // the leader is unreaped: the group id is still ours
      int status;
      while (::waitpid(p->pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    return Error::Internal(std::string("cannot start a process runner thread: ") + e.what());
  }
  return p;
}

Process::Process(PrivateTag, ProcessSpec spec, const Clock& clock, OnDone on_done)
    : spec_(std::move(spec)), clock_(clock), on_done_(std::move(on_done)) {}

Process::~Process() {
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // the runner dropped the last reference on its way out
    } else {
      thread_.join();
    }
  }
  CloseFd(pidfd_);
  CloseFd(stdout_rd_);
  CloseFd(stderr_rd_);
  CloseFd(stdout_log_);
  CloseFd(stderr_log_);
  CloseFd(wake_fd_);
}

void Process::Spawn() {
  started_at_ = clock_.Now();
  started_steady_ = clock_.Steady();

  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    spawn_error_ = "eventfd failed: " + Errno(errno);
    return;
  }
  spawn_error_ = CheckCwd(spec_.cwd);
  if (!spawn_error_.empty()) return;
  // The log files are created on the first output (creating a file costs
  // more than spawning `true`); here only their directory is checked.
  for (const std::string* path : {&spec_.stdout_path, &spec_.stderr_path}) {
    if (path->empty()) continue;
    spawn_error_ = CheckLogDir(*path);
    if (!spawn_error_.empty()) return;
  }

  // O_CLOEXEC so a concurrent spawn elsewhere in the daemon never inherits
  // them (an inherited write end would keep our pipe from reaching EOF).
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    spawn_error_ = "cannot create pipes: " + Errno(errno);
    for (int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return;
  }
  stdout_rd_ = out[0];
  stderr_rd_ = err[0];
  // Only our ends are nonblocking; the child's stay blocking as programs expect.
  ::fcntl(stdout_rd_, F_SETFL, ::fcntl(stdout_rd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(stderr_rd_, F_SETFL, ::fcntl(stderr_rd_, F_GETFL) | O_NONBLOCK);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  if (!spec_.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec_.cwd.c_str());
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // nothing of the daemon's leaks

  sigset_t mask;
  sigset_t defaults;
  sigemptyset(&mask);
  FillDefaultSignals(&defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group, pgid == pid
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<std::string> env = MergedEnv(spec_.env);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char sh[] = "/bin/sh";
  char dash_c[] = "-c";
  std::string command = spec_.command;
  char* argv[] = {sh, dash_c, command.data(), nullptr};

  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    spawn_error_ = "cannot spawn /bin/sh";
    if (!spec_.cwd.empty()) spawn_error_ += " in \"" + spec_.cwd + "\"";
    spawn_error_ += ": " + Errno(rc);
    return;
  }
  pid_ = pid;
  // The child cannot be reaped before this (only Run() reaps it), so the pid
  // still names it even if it already exited. Without pidfds (Linux < 5.3)
  // Run() falls back to checking with waitid every few milliseconds.
  pidfd_ = PidfdOpen(pid_);
}

void Process::Run() {
  ProcessOutcome out;
  out.started_at = started_at_;
  if (pid_ == 0) {
    out.end = ProcessOutcome::End::kSpawnFailed;
    out.error = spawn_error_;
    out.ended_at = clock_.Now();
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;
  } else {
    RunChild(out);
  }
  CloseFd(pidfd_);
  CloseFd(stdout_rd_);
  CloseFd(stderr_rd_);
  CloseFd(stdout_log_);
  CloseFd(stderr_log_);
  if (on_done_) on_done_(out);
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  done_cv_.notify_all();
}

void Process::RunChild(ProcessOutcome& out) {
  using std::chrono::milliseconds;
  constexpr size_t kBufSize = 64 * 1024;
  char buf[kBufSize];
  Stream streams[2] = {
      {stdout_rd_, stdout_log_, "stdout", spec_.stdout_path, Tail(spec_.tail_bytes)},
      {stderr_rd_, stderr_log_, "stderr", spec_.stderr_path, Tail(spec_.tail_bytes)},
  };

  std::optional<SteadyTime> timeout_at;
  if (spec_.timeout.count() > 0) timeout_at = started_steady_ + spec_.timeout;
  std::optional<SteadyTime> kill_at;  // when SIGKILL follows the polite signal
  bool timed_out = false;
  bool stopped = false;
  bool killed = false;
  std::vector<int> signals;

  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      signals.swap(pending_signals_);
    }
    SteadyTime now = clock_.Steady();
    // Signals go out from this thread only, before the leader is reaped, so
    // the group id cannot have been reused by then.
    for (int sig : signals) {
      ::kill(-pid_, sig);
      if (!timed_out) stopped = true;
      if (!kill_at) kill_at = now + spec_.kill_grace;
    }
    signals.clear();
    if (timeout_at && !timed_out && !stopped && now >= *timeout_at) {
      timed_out = true;
      ::kill(-pid_, SIGTERM);
      if (!kill_at) kill_at = now + spec_.kill_grace;
    }
    if (kill_at && !killed && now >= *kill_at) {
      killed = true;
      ::kill(-pid_, SIGKILL);
    }

    std::optional<SteadyTime> next;
    if (timeout_at && !timed_out && !stopped) next = timeout_at;
    if (kill_at && !killed && (!next || *kill_at < *next)) next = kill_at;
    int wait_ms = -1;
    if (next) {
      auto left = std::chrono::ceil<milliseconds>(*next - now).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 1000 * 1000));
    }
    if (pidfd_ < 0 && (wait_ms < 0 || wait_ms > 5)) wait_ms = 5;  // no pidfd: check often

    pollfd fds[4];
    int n = 0;
    int out_i = -1, err_i = -1, pid_i = -1;
    if (stdout_rd_ >= 0) {
      out_i = n;
      fds[n++] = {stdout_rd_, POLLIN, 0};
    }
    if (stderr_rd_ >= 0) {
      err_i = n;
      fds[n++] = {stderr_rd_, POLLIN, 0};
    }
    if (pidfd_ >= 0) {
      pid_i = n;
      fds[n++] = {pidfd_, POLLIN, 0};
    }
    int wake_i = n;
    fds[n++] = {wake_fd_, POLLIN, 0};

    int rc = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (rc < 0 && errno != EINTR) break;  // cannot happen with valid fds; reap below
    if (rc <= 0) {
      if (pidfd_ >= 0) continue;
    }
    // Drain a bounded amount per stream per round so one cannot starve the other.
    if (out_i >= 0 && fds[out_i].revents) streams[0].Drain(buf, kBufSize, 16, out.error);
    if (err_i >= 0 && fds[err_i].revents) streams[1].Drain(buf, kBufSize, 16, out.error);
    if (fds[wake_i].revents) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof v);
    }
    if (pid_i >= 0 && fds[pid_i].revents) break;  // the leader exited (a zombie now)
    if (pidfd_ < 0) {
      siginfo_t si{};
      if (::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          si.si_pid == pid_) {
        break;
      }
    }
  }

  {
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;  // later Stop() calls do nothing
  }
  // The leader is a zombie, so the group id is still reserved: finish off
  // anything it left running (a background grandchild holding our pipes
  // would otherwise keep the run open), take what is already in the pipes,
  // and stop reading.
  ::kill(-pid_, SIGKILL);
  streams[0].Drain(buf, kBufSize, 256, out.error);
  streams[1].Drain(buf, kBufSize, 256, out.error);

  int status = 0;
  pid_t w;
  while ((w = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  SteadyTime end_steady = clock_.Steady();
  out.ended_at = clock_.Now();
  out.duration = std::chrono::duration_cast<milliseconds>(end_steady - started_steady_);
  out.pid = pid_;
  out.stdout_tail = streams[0].tail.Take();
  out.stderr_tail = streams[1].tail.Take();
  if (w == pid_ && WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (w == pid_ && WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  if (w != pid_ && out.error.empty()) out.error = "waitpid failed: " + Errno(errno);
  if (timed_out) {
    out.end = ProcessOutcome::End::kTimedOut;
  } else if (stopped) {
    out.end = ProcessOutcome::End::kStopped;
  } else if (out.signal != 0) {
    out.end = ProcessOutcome::End::kSignaled;
  } else {
    out.end = ProcessOutcome::End::kExited;
  }
}

void Process::Stop(int signal) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exited_ || done_ || pid_ == 0) return;
    pending_signals_.push_back(signal);
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
}

bool Process::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return done_cv_.wait_for(lock, timeout, [this] { return done_; });
}

bool Process::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

// ---- crash-recovery helpers ----

namespace {

// True when /proc shows a member of group `pgid` that is not a zombie, or
// when /proc cannot tell. A zombie still answers kill(), and an init that
// does not reap orphans (some containers) keeps one around forever.
bool LiveMemberInProc(pid_t pgid) {
  DIR* d = ::opendir("/proc");
  if (!d) return true;
  bool live = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string path = std::string("/proc/") + e->d_name + "/stat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char b[512];
    ssize_t n = ::read(fd, b, sizeof b - 1);
    ::close(fd);
    if (n <= 0) continue;
    b[n] = '\0';
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
    const char* rp = std::strrchr(b, ')');
    if (!rp) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') {
      live = true;
      break;
    }
  }
  ::closedir(d);
  return live;
}

struct SigName {
  int sig;
  const char* name;  // without "SIG"
};

constexpr SigName kSignals[] = {
    {SIGHUP, "HUP"},       {SIGINT, "INT"},   {SIGQUIT, "QUIT"},   {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"},     {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},     {SIGFPE, "FPE"},
    {SIGKILL, "KILL"},     {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"},   {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"},     {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},   {SIGCHLD, "CHLD"},
    {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},   {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},   {SIGXFSZ, "XFSZ"},
    {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"}, {SIGIO, "IO"},
    {SIGSYS, "SYS"},
#ifdef SIGPWR
    {SIGPWR, "PWR"},
#endif
#ifdef SIGSTKFLT
    {SIGSTKFLT, "STKFLT"},
#endif
};

std::string Upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

}  // namespace

bool ProcessGroupAlive(pid_t pgid) {
  if (pgid <= 1) return false;
  if (::kill(-pgid, 0) != 0 && errno != EPERM) return false;
  return LiveMemberInProc(pgid);
}

void KillProcessGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return;
  ::kill(-pgid, sig);
}

Result<int> ParseSignalName(std::string_view name) {
  auto invalid = [&] {
    return Error::Invalid("unknown signal \"" + std::string(name) +
                              "\" (use a name like SIGTERM or TERM, or a number)",
                          "signal");
  };
  if (name.empty()) return invalid();
  if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (name.size() > 3) return invalid();
    int n = std::stoi(std::string(name));
    if (n < 1 || n > SIGRTMAX) return invalid();
    return n;
  }
  std::string up = Upper(name);
  std::string_view s = up;
  if (s.substr(0, 3) == "SIG") s.remove_prefix(3);
  for (const auto& [sig, n] : kSignals) {
    if (s == n) return sig;
  }
  if (s == "POLL") return SIGIO;
  if (s == "IOT") return SIGABRT;
  return invalid();
}

std::string SignalName(int sig) {
  for (const auto& [s, n] : kSignals) {
    if (s == sig) return std::string("SIG") + n;
  }
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  return "SIG" + std::to_string(sig);
}

}  // namespace lsh::exec
