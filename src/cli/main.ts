// The `vmactor` command line: dispatches subcommands (setup, plan, run; serve and the service's client verbs).

/** Entry point of the CLI; returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd] = argv;
  switch (cmd) {
    case 'setup':
      return (await import('./setup.js')).runSetup(argv.slice(1));
    case 'plan':
      return (await import('./plan.js')).runPlan(argv.slice(1));
    case 'run':
      return (await import('./run.js')).runRun(argv.slice(1));
    default: {
      const verb = cmd === undefined ? undefined : (await import('./verbs/index.js')).VERBS[cmd];
      if (verb) return verb(argv.slice(1));
      process.stderr.write(
        `usage: vmactor <setup|plan|run|serve|ps|create|start|pause|resume|stop|rm|attach-disk|detach-disk|set-vcpus|set-memory|events|console|logs|template|inspect> [options]\n`,
      );
      return cmd === undefined || cmd === '--help' ? 0 : 2;
    }
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1]);
if (invokedDirectly) process.exitCode = await main(process.argv.slice(2));
