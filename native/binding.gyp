{
  "targets": [
    {
      "target_name": "vmactor_fd",
      "sources": ["src/fd_passing.c", "src/pidfd.c", "src/spawn.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
