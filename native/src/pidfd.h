// pidfd functions of the vmactor addon (native/src/pidfd.c), registered on the module's exports.
#pragma once
#include <node_api.h>
void pidfd_register(napi_env env, napi_value exports);
