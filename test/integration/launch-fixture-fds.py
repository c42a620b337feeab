# Inside the test's netns: attaches two queues of the multiqueue tap argv[1] (TUNSETIFF with
# IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE), opens /dev/null twice as stand-in vhost
# fds, places them at fds 4, 5, 6, 7 and execs the rest of argv with them inherited.
import fcntl, os, struct, sys

tap = sys.argv[1]
opened = []
for _ in range(2):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", tap.encode(), 0x0002 | 0x1000 | 0x4000 | 0x0100))
    opened.append(fd)
opened += [os.open("/dev/null", os.O_RDWR) for _ in range(2)]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in opened]
for fd in opened:
    os.close(fd)
for i, fd in enumerate(high):
    os.dup2(fd, 4 + i, inheritable=True)
    os.close(fd)
os.execvp(sys.argv[2], sys.argv[2:])
