// posix_spawnp off the event loop, and reaping through a pidfd: how the controller starts QEMU.
// child_process.spawn forks the whole Node process on the main thread and waits there until the
// child has exec'd: 1 ms on an idle host, 10-35 ms while other QEMUs start, the event loop blocked
// all along. posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no page tables copied) runs here on
// a libuv worker thread, so the loop never waits for it.
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidfd.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *file;
  char **argv;
  char **envp;
  int *fds; /* pairs: src, dst */
  size_t npairs;
  pid_t pid;
  int err;
} spawn_job;

static char *dup_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

/* A NULL-terminated copy of a JS string array; NULL on a non-string element. */
static char **dup_strings(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = calloc(n + 1, sizeof *out);
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    napi_valuetype t;
    if (napi_get_element(env, arr, i, &el) != napi_ok || napi_typeof(env, el, &t) != napi_ok ||
        t != napi_string || !(out[i] = dup_string(env, el))) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_strings(char **s) {
  if (!s) return;
  for (char **p = s; *p; p++) free(*p);
  free(s);
}

static void free_job(spawn_job *job) {
  free(job->file);
  free_strings(job->argv);
  free_strings(job->envp);
  free(job->fds);
  free(job);
}

/* The child's fds: every source first to a number above all of them, then to its target, so a
 * target that is another pair's source is never overwritten before it was copied. */
static int add_fd_actions(posix_spawn_file_actions_t *fa, const int *fds, size_t npairs) {
  int high = 0;
  for (size_t i = 0; i < 2 * npairs; i++)
    if (fds[i] > high) high = fds[i];
  high += 1;
  for (size_t i = 0; i < npairs; i++)
    if (posix_spawn_file_actions_adddup2(fa, fds[2 * i], high + (int)i) != 0) return -1;
  for (size_t i = 0; i < npairs; i++)
    if (posix_spawn_file_actions_adddup2(fa, high + (int)i, fds[2 * i + 1]) != 0) return -1;
  for (size_t i = 0; i < npairs; i++)
    if (posix_spawn_file_actions_addclose(fa, high + (int)i) != 0) return -1;
  return 0;
}

static void run_spawn(napi_env env, void *data) {
  (void)env;
  spawn_job *job = data;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  /* Own session (detached), default dispositions (Node ignores SIGPIPE), nothing blocked. */
  int rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0 && add_fd_actions(&fa, job->fds, job->npairs) != 0) rc = errno ? errno : EINVAL;
  if (rc == 0) rc = posix_spawnp(&job->pid, job->file, &fa, &attr, job->argv, job->envp);
  job->err = rc;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
}

static void spawn_done(napi_env env, napi_status status, void *data) {
  spawn_job *job = data;
  napi_value result;
  if (status == napi_ok && job->err == 0) {
    napi_create_int32(env, job->pid, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    int err = job->err ? job->err : EIO;
    napi_value code, msg, errnoValue;
    const char *name = err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == ENOEXEC ? "ENOEXEC" : err == EBADF ? "EBADF" : err == ENOMEM ? "ENOMEM" : "EIO";
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &result);
    napi_create_int32(env, -err, &errnoValue);
    napi_set_named_property(env, result, "errno", errnoValue);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free_job(job);
}

/* spawnAsync(file, argv, envp, fdPairs: number[] [src, dst, ...]) -> Promise<pid>. The sources
 * stay open here (the caller closes its copies); every other fd of ours is close-on-exec. */
static napi_value spawn_async_js(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  napi_valuetype t0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_typeof(env, argv[0], &t0) != napi_ok || t0 != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnAsync(file, argv, envp, fdPairs)");
    return NULL;
  }
  spawn_job *job = calloc(1, sizeof *job);
  uint32_t nfds = 0;
  int bad = !job || !(job->file = dup_string(env, argv[0])) || !(job->argv = dup_strings(env, argv[1])) ||
            !(job->envp = dup_strings(env, argv[2])) || napi_get_array_length(env, argv[3], &nfds) != napi_ok ||
            nfds % 2 != 0;
  if (!bad) {
    job->npairs = nfds / 2;
    job->fds = calloc(nfds + 1, sizeof *job->fds);
    bad = !job->fds;
    for (uint32_t i = 0; !bad && i < nfds; i++) {
      napi_value el;
      int32_t fd;
      bad = napi_get_element(env, argv[3], i, &el) != napi_ok || napi_get_value_int32(env, el, &fd) != napi_ok || fd < 0;
      if (!bad) job->fds[i] = fd;
    }
  }
  if (bad) {
    if (job) free_job(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnAsync(file, argv: string[], envp: string[], fdPairs: number[])");
    return NULL;
  }
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "vmactor.spawn", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, run_spawn, spawn_done, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

static napi_value fd_pair(napi_env env, int fds[2]) {
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

/* pipeCloexec() -> [read, write], both close-on-exec. */
static napi_value pipe_js(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return pidfd_throw(env, errno, "pipe2");
  return fd_pair(env, fds);
}

/* socketpairCloexec() -> [ours, theirs]: an AF_UNIX stream pair, both close-on-exec. */
static napi_value socketpair_js(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return pidfd_throw(env, errno, "socketpair");
  return fd_pair(env, fds);
}

/* pidfdReap(fd) -> {code, signal} once the child exited (reaped now), else null. Our children only. */
static napi_value pidfd_reap_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pidfdReap(fd)");
    return NULL;
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) != 0) return pidfd_throw(env, errno, "waitid");
  napi_value result, code, sig;
  if (si.si_pid == 0) {
    napi_get_null(env, &result);
    return result;
  }
  napi_create_object(env, &result);
  int exited = si.si_code == CLD_EXITED;
  if (exited) napi_create_int32(env, si.si_status, &code);
  else napi_get_null(env, &code);
  if (!exited) napi_create_int32(env, si.si_status, &sig);
  else napi_get_null(env, &sig);
  napi_set_named_property(env, result, "code", code);
  napi_set_named_property(env, result, "signal", sig);
  return result;
}

void spawn_register(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {
      {"spawnAsync", spawn_async_js},
      {"pipeCloexec", pipe_js},
      {"socketpairCloexec", socketpair_js},
      {"pidfdReap", pidfd_reap_js},
  };
  addon_register(env, exports, fns, sizeof fns / sizeof fns[0]);
}
