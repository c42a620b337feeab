// vmactor_fd: sendmsg(2) with SCM_RIGHTS on a connected Unix stream socket, for QMP fd passing
// (getfd / add-fd). Node's `net` cannot attach ancillary data, so this is the one native piece.
// Plain N-API (C, no node-addon-api) so it builds with nothing but node-gyp and the Node headers.
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pidfd.h"

#define MAX_FDS 16 /* QEMU's TCP_MAX_FDS: the most a QMP socket chardev accepts per message */

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value code, msg, error;
  char buf[128];
  const char *name = err == EBADF ? "EBADF" : err == EPIPE ? "EPIPE" : err == ENOTSOCK ? "ENOTSOCK"
                     : err == ECONNRESET ? "ECONNRESET" : err == EINVAL ? "EINVAL" : err == ENOBUFS ? "ENOBUFS"
                     : err == ENOMEM ? "ENOMEM" : err == ETOOMANYREFS ? "ETOOMANYREFS" : "EIO";
  snprintf(buf, sizeof buf, "%s failed: %s (%s)", syscall, strerror(err), name);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_value errnoValue;
  napi_create_int32(env, -err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_value sc;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

// sendWithFds(socketFd: number, data: Buffer, fds: number[]): number
// Returns the number of bytes sent (the fds travel with the first byte), or -1 when the socket
// buffer is full (EAGAIN: nothing sent, retry later). Other failures throw an errno-style Error.
static napi_value send_with_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3)
    return throw_type(env, "Expected `sendWithFds(socketFd, data, fds)` with 3 arguments");

  int32_t sock;
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0)
    return throw_type(env, "Expected `socketFd` to be a non-negative integer");

  bool isBuffer = false;
  napi_is_buffer(env, argv[1], &isBuffer);
  if (!isBuffer) return throw_type(env, "Expected `data` to be a Buffer");
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  if (len == 0) return throw_type(env, "Expected `data` to be non-empty");

  bool isArray = false;
  napi_is_array(env, argv[2], &isArray);
  if (!isArray) return throw_type(env, "Expected `fds` to be an array");
  uint32_t nfds;
  napi_get_array_length(env, argv[2], &nfds);
  if (nfds == 0 || nfds > MAX_FDS) return throw_type(env, "Expected `fds` to hold 1 to 16 descriptors");

  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    napi_get_element(env, argv[2], i, &v);
    if (napi_get_value_int32(env, v, &fds[i]) != napi_ok || fds[i] < 0)
      return throw_type(env, "Expected every fd to be a non-negative integer");
  }

  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);

  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);

  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
  memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);

  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);

  napi_value result;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_create_int32(env, -1, &result);
      return result;
    }
    return throw_errno(env, errno, "sendmsg");
  }
  napi_create_int64(env, (int64_t)n, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sendWithFds", NAPI_AUTO_LENGTH, send_with_fds, NULL, &fn);
  napi_set_named_property(env, exports, "sendWithFds", fn);
  pidfd_register(env, exports);
  spawn_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
