// The `disable*` knobs: each leaves one default device (and its socket path) out of the plan.
import { describe, expect, it } from 'vitest';
import type { HypervisorConfigInput } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { planQemu } from '../../src/qemu/plan.js';

const HOST = { hostCpus: 4, hostMemoryMiB: 8192 };

function plan(hypervisor: HypervisorConfigInput = {}) {
  const config = validateConfig(
    {
      id: 'sb1',
      hypervisor: { kernelPath: '/k/vmlinuz', initrdPath: '/k/initrd.img', memorySize: 256, ...hypervisor },
    },
    HOST,
  );
  return planQemu(config, { runDir: '/run/vmactor/sb1', qmpFd: 3, ...HOST });
}

const ids = (argv: readonly string[]): string[] =>
  argv.flatMap((a, i) => {
    const v = argv[i + 1] ?? '';
    if (a === '-device' || a === '-object') return [String((JSON.parse(v) as { id?: string }).id)];
    if (a === '-chardev') return [/id=([^,]+)/.exec(v)?.[1] ?? ''];
    return [];
  });

describe('optional default devices', () => {
  it('plans every default device when no knob is set', () => {
    const p = plan();
    expect(ids(p.argv)).toEqual(
      expect.arrayContaining([
        'qmp-path',
        'serial0',
        'console0',
        'charconsole0',
        'rng0',
        'channel0',
        'charch0',
      ]),
    );
    expect(Object.keys(p.paths)).toEqual(
      expect.arrayContaining(['qmpSocket', 'consoleSocket', 'agentSocket']),
    );
  });

  it('leaves out the console and its socket with disableConsole, keeping virtio-serial for the agent', () => {
    const p = plan({ disableConsole: true });
    expect(ids(p.argv)).not.toContain('console0');
    expect(ids(p.argv)).not.toContain('charconsole0');
    expect(ids(p.argv)).toEqual(expect.arrayContaining(['serial0', 'channel0']));
    expect(p.paths.consoleSocket).toBeUndefined();
  });

  it('leaves out the rng device and its backend with disableRng', () => {
    expect(ids(plan({ disableRng: true }).argv).filter((id) => id === 'rng0')).toEqual([]);
  });

  it('leaves out the agent channel and its socket with disableAgentChannel, and virtio-serial with the console too', () => {
    const p = plan({ disableAgentChannel: true });
    expect(ids(p.argv)).not.toContain('channel0');
    expect(p.paths.agentSocket).toBeUndefined();
    const both = plan({ disableAgentChannel: true, disableConsole: true });
    expect(ids(both.argv)).not.toContain('serial0');
    const vsock = plan({ useVSock: true, disableAgentChannel: true });
    expect(vsock.argv.join(' ')).not.toContain('vhost-vsock');
  });

  it('leaves out the second QMP monitor and its socket with disableReattachMonitor, keeping QMP on fd 3', () => {
    const p = plan({ disableReattachMonitor: true });
    expect(ids(p.argv)).not.toContain('qmp-path');
    expect(p.argv.filter((a) => a === '-mon')).toHaveLength(1);
    expect(p.paths.qmpSocket).toBeUndefined();
  });
});
