// pidfd functions of the vmactor addon (native/src/pidfd.c), registered on the module's exports.
#pragma once
#include <node_api.h>
#include <stddef.h>
void pidfd_register(napi_env env, napi_value exports);
/* Throws an Error with `code` (errno name), `errno` (negative) and `syscall`; returns NULL. */
napi_value pidfd_throw(napi_env env, int err, const char *syscall_name);
/* posix_spawn off the loop, CLOEXEC pipes and socketpairs, reaping by pidfd (native/src/spawn.c). */
void spawn_register(napi_env env, napi_value exports);
/* One exported function of the addon. */
typedef struct {
  const char *name;
  napi_callback cb;
} addon_fn;
/* Sets each of `fns` on `exports` under its name. */
void addon_register(napi_env env, napi_value exports, const addon_fn *fns, size_t n);
