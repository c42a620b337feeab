// pidfd: exit detection and signals for a process that is not our child (a QEMU we reattached to).
// pidfd_open(2) gives an fd that becomes readable when the process exits; it is watched with a
// uv_poll_t on Node's own event loop (an event, not a timer) and a JS callback is called once.
// pidfd_send_signal(2) signals exactly that process even if its pid number is reused later.
#include <errno.h>
#include <node_api.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "pidfd.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  int fd;
  int active;
  int owners; /* the uv handle until closed + the JS external until finalized */
} pidfd_watch;

napi_value pidfd_throw(napi_env env, int err, const char *syscall_name) {
  napi_value code, msg, error, errnoValue, sc;
  char buf[160];
  snprintf(buf, sizeof buf, "%s failed: %s", syscall_name, strerror(err));
  const char *name = err == ESRCH ? "ESRCH" : err == EBADF ? "EBADF" : err == EPERM ? "EPERM" : err == ENOSYS ? "ENOSYS" : err == EINVAL ? "EINVAL" : err == EMFILE ? "EMFILE" : err == ECHILD ? "ECHILD" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static int int_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int32_t *out) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return -1;
  for (size_t i = 0; i < want && out; i++) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_number) return -1;
  }
  if (out && napi_get_value_int32(env, argv[0], out) != napi_ok) return -1;
  return 0;
}

/* pidfdOpen(pid) -> fd (close-on-exec). Throws ESRCH when the process is gone. */
static napi_value pidfd_open_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid;
  if (int_arg(env, info, 1, argv, &pid) != 0 || pid <= 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pidfdOpen(pid): pid must be a positive integer");
    return NULL;
  }
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return pidfd_throw(env, errno, "pidfd_open");
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/* pidfdSendSignal(fd, signo) -> true, or false when the process already exited (ESRCH). */
static napi_value pidfd_send_signal_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int32_t fd, sig;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &sig) != napi_ok ||
      fd < 0 || sig < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pidfdSendSignal(fd, signo): two non-negative integers");
    return NULL;
  }
  napi_value result;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) {
    if (errno == ESRCH) {
      napi_get_boolean(env, false, &result);
      return result;
    }
    return pidfd_throw(env, errno, "pidfd_send_signal");
  }
  napi_get_boolean(env, true, &result);
  return result;
}

static void release(pidfd_watch *w) {
  if (--w->owners == 0) free(w);
}

static void on_closed(uv_handle_t *handle) {
  pidfd_watch *w = (pidfd_watch *)handle->data;
  if (w->callback) napi_delete_reference(w->env, w->callback);
  w->callback = NULL;
  release(w);
}

static void stop_watch(pidfd_watch *w) {
  if (!w->active) return;
  w->active = 0;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  pidfd_watch *w = (pidfd_watch *)handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, arg;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int32(env, status, &arg);
  stop_watch(w); /* one shot: the pidfd stays readable once the process exited */
  napi_call_function(env, global, cb, 1, &arg, NULL);
  napi_close_handle_scope(env, scope);
}

static void finalize_watch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release((pidfd_watch *)data);
}

/* pidfdWatch(fd, callback, keepAlive = false) -> handle: callback(status) once when the pidfd
 * becomes readable (the process exited). Unless keepAlive, the poll handle is unref'd: it does not
 * keep Node alive by itself (a process we watch but do not own); a child of ours keeps it alive. */
static napi_value pidfd_watch_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  int32_t fd;
  napi_valuetype t;
  bool keep_alive = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pidfdWatch(fd, callback, keepAlive?)");
    return NULL;
  }
  if (argc >= 3 && napi_get_value_bool(env, argv[2], &keep_alive) != napi_ok) keep_alive = false;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return pidfd_throw(env, EINVAL, "napi_get_uv_event_loop");
  pidfd_watch *w = calloc(1, sizeof *w);
  if (!w) return pidfd_throw(env, ENOMEM, "calloc");
  w->env = env;
  w->fd = fd;
  w->owners = 2;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    return pidfd_throw(env, -rc, "uv_poll_init");
  }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->callback);
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    w->owners = 1; /* no JS external will exist */
    w->active = 1;
    stop_watch(w);
    return pidfd_throw(env, -rc, "uv_poll_start");
  }
  w->active = 1;
  if (!keep_alive) uv_unref((uv_handle_t *)&w->poll);
  napi_value handle;
  napi_create_external(env, w, finalize_watch, NULL, &handle);
  return handle;
}

/* pidfdUnwatch(handle): stops a watch that has not fired (idempotent). */
static napi_value pidfd_unwatch_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pidfdUnwatch(handle)");
    return NULL;
  }
  /* Valid while the external lives (it holds one of the two owners); a fired watch is inactive. */
  stop_watch((pidfd_watch *)data);
  return NULL;
}

void addon_register(napi_env env, napi_value exports, const addon_fn *fns, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
}

void pidfd_register(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {
      {"pidfdOpen", pidfd_open_js},
      {"pidfdSendSignal", pidfd_send_signal_js},
      {"pidfdWatch", pidfd_watch_js},
      {"pidfdUnwatch", pidfd_unwatch_js},
  };
  addon_register(env, exports, fns, sizeof fns / sizeof fns[0]);
}
