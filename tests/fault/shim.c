// lsh fault shim: an LD_PRELOAD library that models a disk under lshd.
//
// What it does to the files directly inside LSH_SHIM_DIR (the database
// directory; files in its subdirectories and the "-shm" wal-index, which
// SQLite only ever maps and never needs durable, are left alone):
//
// - Power loss (LSH_SHIM_STATE=<dir>): every byte written since the last
//   fsync/fdatasync of a file is "volatile". The shim records the ranges
//   written (write, pwrite, pwrite64, ftruncate) and, when the file is
//   synced, copies exactly those ranges from the file into its durable image
//   <state>/<name> and gives the image the file's size. After kill -9, the
//   test's power cut (tests/fault/fault_support.h PowerCut) rewrites each
//   file to its durable image and deletes the files that have none: what
//   was never synced is gone, as after a power cut. A file that already
//   exists when the shim first opens it is taken as durable as it is.
//   A new file's name becomes durable at its first fsync (what ext4 and XFS
//   do for a newly created file) or at an fsync of the directory (its
//   content then still only as synced); unlink and rename are taken as
//   durable at once.
// - fsync failure (LSH_SHIM_FAIL_FSYNC=N): the Nth fsync/fdatasync of a
//   tracked file fails with EIO and, like Linux after a writeback error,
//   the pages it should have written are dropped from the dirty set: a
//   retried fsync succeeds and yet that data never becomes durable
//   ("fsyncgate"). The shim says so on stderr.
// - A slow volume (LSH_SHIM_FSYNC_DELAY_US=U): each fsync/fdatasync takes
//   U microseconds longer (of tracked files when LSH_SHIM_DIR is set,
//   otherwise of every file). The benchmark suite uses it.
//
// SQLite (Debian's libsqlite3) calls open64, pwrite64, write, fdatasync,
// ftruncate64 and close; the other spellings are intercepted as well.
//
// Thread-safety: the fd table is an array of atomic pointers, so close()
// and untracked calls never take a lock (they may run in a forked child);
// a tracked file's ranges are guarded by its entry's mutex, and the table of
// entries by table_mu.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define MAX_ENTRIES 64

struct range {
  int64_t off, len;
};

struct entry {
  char name[NAME_MAX + 1];  // basename inside LSH_SHIM_DIR
  char path[PATH_MAX];
  pthread_mutex_t mu;
  struct range* ranges;  // written since the last sync; guarded by mu
  size_t n, cap;         // guarded by mu
  int all_dirty;         // a write whose offset is unknown: copy everything
  int durable;           // has a durable image (or was durable before us)
};

static char g_dir[PATH_MAX];
static size_t g_dir_len;
static char g_state[PATH_MAX];
static long g_fail_at;  // 0: never
static long g_delay_us;
static atomic_long g_fsyncs;
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry g_entries[MAX_ENTRIES];  // guarded by table_mu (append only)
static int g_nentries;
static _Atomic(struct entry*) g_fds[MAX_FDS];
static struct entry g_dir_marker;  // what g_dirfds holds for a descriptor of g_dir
static _Atomic(struct entry*) g_dirfds[MAX_FDS];

static int (*real_open)(const char*, int, ...);
static int (*real_open64)(const char*, int, ...);
static int (*real_openat)(int, const char*, int, ...);
static int (*real_openat64)(int, const char*, int, ...);
static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void*, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_close)(int);
static int (*real_unlink)(const char*);
static int (*real_unlinkat)(int, const char*, int);

static void resolve(void) {
  real_open = dlsym(RTLD_NEXT, "open");
  real_open64 = dlsym(RTLD_NEXT, "open64");
  real_openat = dlsym(RTLD_NEXT, "openat");
  real_openat64 = dlsym(RTLD_NEXT, "openat64");
  real_write = dlsym(RTLD_NEXT, "write");
  real_pwrite = dlsym(RTLD_NEXT, "pwrite");
  real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
  real_writev = dlsym(RTLD_NEXT, "writev");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
  real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
  real_close = dlsym(RTLD_NEXT, "close");
  real_unlink = dlsym(RTLD_NEXT, "unlink");
  real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
}

__attribute__((constructor)) static void shim_init(void) {
  resolve();
  const char* d = getenv("LSH_SHIM_DIR");
  if (d && *d && realpath(d, g_dir)) g_dir_len = strlen(g_dir);
  const char* s = getenv("LSH_SHIM_STATE");
  if (s && *s) snprintf(g_state, sizeof g_state, "%s", s);
  const char* f = getenv("LSH_SHIM_FAIL_FSYNC");
  if (f && *f) g_fail_at = atol(f);
  const char* u = getenv("LSH_SHIM_FSYNC_DELAY_US");
  if (u && *u) g_delay_us = atol(u);
}

// ---- helpers that use only the real calls ----

static int copy_range(int from, int to, int64_t off, int64_t len) {
  char buf[1 << 16];
  while (len > 0) {
    size_t want = len < (int64_t)sizeof buf ? (size_t)len : sizeof buf;
    ssize_t r = pread(from, buf, want, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    ssize_t w = real_pwrite64(to, buf, (size_t)r, off);
    if (w != r) return -1;
    off += r;
    len -= r;
  }
  return 0;
}

static void image_path(const struct entry* e, char* out, size_t n) {
  snprintf(out, n, "%s/%s", g_state, e->name);
}

// Makes the whole current file its durable image.
static void image_whole(struct entry* e, int fd) {
  if (!g_state[0]) return;
  char ip[PATH_MAX];
  image_path(e, ip, sizeof ip);
  int to = real_open64(ip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (to < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0) copy_range(fd, to, 0, st.st_size);
  real_close(to);
  e->durable = 1;
}

// Is `path` (absolute or relative to cwd / dirfd) a file directly in g_dir?
// Writes its basename to `name`. Also tells whether it is the directory.
static int classify(int dirfd, const char* path, char* name, int* is_dir) {
  *is_dir = 0;
  if (!g_dir_len || !path) return 0;
  char full[PATH_MAX];
  if (path[0] == '/') {
    snprintf(full, sizeof full, "%s", path);
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) return 0;
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, base, sizeof base - 1);
      if (n < 0) return 0;
      base[n] = 0;
    }
    snprintf(full, sizeof full, "%s/%s", base, path);
  }
  // The directory itself (SQLite opens it to fsync it).
  size_t len = strlen(full);
  while (len > 1 && full[len - 1] == '/') full[--len] = 0;
  char* slash = strrchr(full, '/');
  if (!slash) return 0;
  *slash = 0;
  char parent[PATH_MAX];
  const char* dirpart = full[0] ? full : "/";
  if (!realpath(dirpart, parent)) return 0;
  const char* leaf = slash + 1;
  char self[PATH_MAX];
  snprintf(self, sizeof self, "%s/%s", parent, leaf);
  if (strcmp(self, g_dir) == 0) {
    *is_dir = 1;
    return 0;
  }
  if (strcmp(parent, g_dir) != 0) return 0;
  size_t ll = strlen(leaf);
  if (ll >= 4 && strcmp(leaf + ll - 4, "-shm") == 0) return 0;
  if (ll == 0 || ll > NAME_MAX) return 0;
  memcpy(name, leaf, ll + 1);
  return 1;
}

static struct entry* find_or_add(const char* name, int* added) {
  *added = 0;
  pthread_mutex_lock(&table_mu);
  for (int i = 0; i < g_nentries; ++i) {
    if (strcmp(g_entries[i].name, name) == 0) {
      pthread_mutex_unlock(&table_mu);
      return &g_entries[i];
    }
  }
  struct entry* e = NULL;
  if (g_nentries < MAX_ENTRIES) {
    e = &g_entries[g_nentries++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->path, sizeof e->path, "%s/%s", g_dir, name);
    pthread_mutex_init(&e->mu, NULL);
    *added = 1;
  }
  pthread_mutex_unlock(&table_mu);
  return e;
}

// After a successful open of `path` as fd.
static void track_open(int dirfd, const char* path, int flags, int fd, int existed) {
  if (fd < 0 || fd >= MAX_FDS) return;
  char name[NAME_MAX + 1];
  int is_dir = 0;
  if (!classify(dirfd, path, name, &is_dir)) {
    if (is_dir) atomic_store(&g_dirfds[fd], &g_dir_marker);
    return;
  }
  int added = 0;
  struct entry* e = find_or_add(name, &added);
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  if (added && existed && g_state[0]) {
    // Present before this process touched it: durable as it is, unless an
    // image already says otherwise (an earlier process under the shim).
    char ip[PATH_MAX];
    image_path(e, ip, sizeof ip);
    struct stat st;
    if (stat(ip, &st) == 0)
      e->durable = 1;
    else
      image_whole(e, fd);
  }
  if (!existed && g_state[0]) {
    // Created now (again): its name is not durable until a sync.
    char ip[PATH_MAX];
    image_path(e, ip, sizeof ip);
    real_unlink(ip);
    e->durable = 0;
  }
  if (flags & O_TRUNC) {
    // The truncation is volatile too: the image keeps its size until a sync.
    e->all_dirty = 1;
  }
  pthread_mutex_unlock(&e->mu);
  atomic_store(&g_fds[fd], e);
}

static void add_range(int fd, int64_t off, int64_t len) {
  if (fd < 0 || fd >= MAX_FDS || len <= 0) return;
  struct entry* e = atomic_load(&g_fds[fd]);
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    struct range* r = realloc(e->ranges, cap * sizeof *r);
    if (!r) {
      e->all_dirty = 1;
      pthread_mutex_unlock(&e->mu);
      return;
    }
    e->ranges = r;
    e->cap = cap;
  }
  // Appending right after the last range extends it (the WAL's pattern).
  if (e->n > 0 && e->ranges[e->n - 1].off + e->ranges[e->n - 1].len == off)
    e->ranges[e->n - 1].len += len;
  else
    e->ranges[e->n++] = (struct range){off, len};
  pthread_mutex_unlock(&e->mu);
}

static void mark_all_dirty(int fd) {
  if (fd < 0 || fd >= MAX_FDS) return;
  struct entry* e = atomic_load(&g_fds[fd]);
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->all_dirty = 1;
  pthread_mutex_unlock(&e->mu);
}

static void delay(void) {
  if (g_delay_us <= 0) return;
  struct timespec ts = {g_delay_us / 1000000, (g_delay_us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// fsync and fdatasync.
static int do_sync(int fd, int (*real)(int)) {
  struct entry* e = (fd >= 0 && fd < MAX_FDS) ? atomic_load(&g_fds[fd]) : NULL;
  int is_dir = (fd >= 0 && fd < MAX_FDS) && atomic_load(&g_dirfds[fd]) != NULL;
  if (!e && !is_dir) {
    if (!g_dir_len) delay();
    return real(fd);
  }
  delay();
  if (is_dir) {
    int rc = real(fd);
    if (rc == 0 && g_state[0]) {
      // Names of files created in the directory become durable (empty
      // images for files whose content was never synced).
      pthread_mutex_lock(&table_mu);
      for (int i = 0; i < g_nentries; ++i) {
        struct entry* x = &g_entries[i];
        pthread_mutex_lock(&x->mu);
        if (!x->durable) {
          char ip[PATH_MAX];
          image_path(x, ip, sizeof ip);
          int to = real_open64(ip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          if (to >= 0) real_close(to);
          x->durable = 1;
        }
        pthread_mutex_unlock(&x->mu);
      }
      pthread_mutex_unlock(&table_mu);
    }
    return rc;
  }
  long nth = atomic_fetch_add(&g_fsyncs, 1) + 1;
  // Take the dirty set first: what is written from now on needs the next sync.
  pthread_mutex_lock(&e->mu);
  struct range* ranges = e->ranges;
  size_t n = e->n;
  int all = e->all_dirty;
  e->ranges = NULL;
  e->n = e->cap = 0;
  e->all_dirty = 0;
  if (g_fail_at > 0 && nth == g_fail_at) {
    pthread_mutex_unlock(&e->mu);
    free(ranges);  // dropped, as Linux drops pages after a writeback error
    char msg[256];
    int m =
        snprintf(msg, sizeof msg, "lsh-shim: failing fsync #%ld of %s with EIO\n", nth, e->name);
    if (real_write(2, msg, (size_t)m) < 0) {
    }
    errno = EIO;
    return -1;
  }
  int rc = real(fd);
  if (rc == 0 && g_state[0]) {
    char ip[PATH_MAX];
    image_path(e, ip, sizeof ip);
    int to = real_open64(ip, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (to >= 0 && fstat(fd, &st) == 0) {
      if (all || !e->durable) {
        copy_range(fd, to, 0, st.st_size);
      } else {
        for (size_t i = 0; i < n; ++i) {
          int64_t off = ranges[i].off, len = ranges[i].len;
          if (off >= st.st_size) continue;
          if (off + len > st.st_size) len = st.st_size - off;
          copy_range(fd, to, off, len);
        }
      }
      if (real_ftruncate64(to, st.st_size) != 0) {
      }
      e->durable = 1;
    }
    if (to >= 0) real_close(to);
  }
  pthread_mutex_unlock(&e->mu);
  free(ranges);
  return rc;
}

// ---- the intercepted calls ----

static int exists_at(int dirfd, const char* path) {
  struct stat st;
  return fstatat(dirfd, path, &st, 0) == 0;
}

#define OPEN_BODY(REAL, DIRFD)                                         \
  mode_t mode = 0;                                                     \
  if (flags & (O_CREAT | O_TMPFILE)) {                                 \
    va_list ap;                                                        \
    va_start(ap, flags);                                               \
    mode = (mode_t)va_arg(ap, int);                                    \
    va_end(ap);                                                        \
  }                                                                    \
  if (!REAL) resolve();                                                \
  int tracked = g_dir_len != 0;                                        \
  int existed = tracked ? exists_at(DIRFD, path) : 1;                  \
  int fd = REAL_CALL;                                                  \
  if (tracked && fd >= 0) track_open(DIRFD, path, flags, fd, existed); \
  return fd;

int open(const char* path, int flags, ...) {
#define REAL_CALL real_open(path, flags, mode)
  OPEN_BODY(real_open, AT_FDCWD)
#undef REAL_CALL
}

int open64(const char* path, int flags, ...) {
#define REAL_CALL real_open64(path, flags, mode)
  OPEN_BODY(real_open64, AT_FDCWD)
#undef REAL_CALL
}

int openat(int dirfd, const char* path, int flags, ...) {
#define REAL_CALL real_openat(dirfd, path, flags, mode)
  OPEN_BODY(real_openat, dirfd)
#undef REAL_CALL
}

int openat64(int dirfd, const char* path, int flags, ...){
#define REAL_CALL real_openat64(dirfd, path, flags, mode)
    OPEN_BODY(real_openat64, dirfd)
#undef REAL_CALL
}

ssize_t write(int fd, const void* buf, size_t n) {
  if (!real_write) resolve();
  struct entry* e = (fd >= 0 && fd < MAX_FDS) ? atomic_load(&g_fds[fd]) : NULL;
  if (!e) return real_write(fd, buf, n);
  off_t before = lseek(fd, 0, SEEK_CUR);
  ssize_t r = real_write(fd, buf, n);
  if (r > 0) {
    if (before < 0)
      mark_all_dirty(fd);
    else {
      off_t after = lseek(fd, 0, SEEK_CUR);  // O_APPEND writes land at the end
      add_range(fd, after >= r ? after - r : before, r);
    }
  }
  return r;
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  if (!real_writev) resolve();
  ssize_t r = real_writev(fd, iov, cnt);
  if (r > 0) mark_all_dirty(fd);
  return r;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (!real_pwrite) resolve();
  ssize_t r = real_pwrite(fd, buf, n, off);
  if (r > 0) add_range(fd, off, r);
  return r;
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  if (!real_pwrite64) resolve();
  ssize_t r = real_pwrite64(fd, buf, n, off);
  if (r > 0) add_range(fd, off, r);
  return r;
}

int fsync(int fd) {
  if (!real_fsync) resolve();
  return do_sync(fd, real_fsync);
}

int fdatasync(int fd) {
  if (!real_fdatasync) resolve();
  return do_sync(fd, real_fdatasync);
}

int ftruncate(int fd, off_t len) {
  if (!real_ftruncate) resolve();
  int rc = real_ftruncate(fd, len);
  if (rc == 0) add_range(fd, len, INT64_MAX / 4);
  return rc;
}

int ftruncate64(int fd, off64_t len) {
  if (!real_ftruncate64) resolve();
  int rc = real_ftruncate64(fd, len);
  if (rc == 0) add_range(fd, len, INT64_MAX / 4);
  return rc;
}

int close(int fd) {
  if (!real_close) resolve();
  if (fd >= 0 && fd < MAX_FDS) {
    atomic_store(&g_fds[fd], NULL);
    atomic_store(&g_dirfds[fd], NULL);
  }
  return real_close(fd);
}

// An unlink is taken as durable at once: the file's image goes with it.
static void forget(int dirfd, const char* path) {
  char name[NAME_MAX + 1];
  int is_dir = 0;
  if (!g_state[0] || !classify(dirfd, path, name, &is_dir)) return;
  int added = 0;
  struct entry* e = find_or_add(name, &added);
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  char ip[PATH_MAX];
  image_path(e, ip, sizeof ip);
  real_unlink(ip);
  e->durable = 0;
  pthread_mutex_unlock(&e->mu);
}

int unlink(const char* path) {
  if (!real_unlink) resolve();
  int rc = real_unlink(path);
  if (rc == 0) forget(AT_FDCWD, path);
  return rc;
}

int unlinkat(int dirfd, const char* path, int flags) {
  if (!real_unlinkat) resolve();
  int rc = real_unlinkat(dirfd, path, flags);
  if (rc == 0 && !(flags & AT_REMOVEDIR)) forget(dirfd, path);
  return rc;
}
