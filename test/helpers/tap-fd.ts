// Opens a tap's queue fd in this process: /dev/net/tun attached to the tap with TUNSETIFF.
import { spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';

/**
 * Opens /dev/net/tun here (a tun file belongs to the netns it was opened in) and has python3 attach
 * it to `tap` with TUNSETIFF (Node has no ioctl; the inherited fd shares the open file). Run it
 * inside the test's network namespace. Returns the fd; the caller closes it.
 *
 * @example
 * const fd = openTapFd('tap0'); // then { kind: 'net', id: 'n0', fds: [fd] }
 */
export function openTapFd(tap: string): number {
  const tun = openSync('/dev/net/tun', 'r+');
  const attach = spawnSync(
    'python3',
    [
      '-c',
      // TUNSETIFF = 0x400454ca; IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
      'import fcntl,struct,sys; fcntl.ioctl(3, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))',
      tap,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', tun] },
  );
  if (attach.status !== 0) throw new Error(`TUNSETIFF on ${tap} failed (${attach.status})`);
  return tun;
}
