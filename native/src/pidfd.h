// pidfd functions of the vmactor addon (native/src/pidfd.c), registered on the module's exports.
#pragma once
#include <node_api.h>
void pidfd_register(napi_env env, napi_value exports);
/* Throws an Error with `code` (errno name), `errno` (negative) and `syscall`; returns NULL. */
napi_value pidfd_throw(napi_env env, int err, const char *syscall_name);
/* posix_spawn off the loop, CLOEXEC pipes and socketpairs, reaping by pidfd (native/src/spawn.c). */
void spawn_register(napi_env env, napi_value exports);
