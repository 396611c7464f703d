import { Command, InvalidArgumentError, Option } from 'commander';
import { doctor, formatDoctor } from './commands/doctor.js';
import { collect } from './commands/collect.js';
import { PLUGIN_NAMES } from './plugins.js';

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function pluginName(v: string, prev: string[] = []): string[] {
  if (!PLUGIN_NAMES.includes(v)) throw new InvalidArgumentError(`unknown plugin (available: ${PLUGIN_NAMES.join(', ')})`);
  return [...prev, v];
}

export function buildProgram(): Command {
  const program = new Command('boxwatch').description('eBPF runtime security for Linux containers').showHelpAfterError();

  program
    .command('doctor')
    .description('probe kernel features and show which hook variant each plugin would use')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await doctor();
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctor(report)}\n`);
    });

  program
    .command('collect')
    .description('print events from the collection plugins')
    .option('-p, --plugin <name>', `plugin to run, repeatable (${PLUGIN_NAMES.join(', ')}; default all)`, pluginName, [])
    .addOption(new Option('-f, --format <format>', 'output format').choices(['ndjson', 'pretty']).default('ndjson'))
    .option('-d, --duration <seconds>', 'stop after this many seconds', positiveNumber)
    .option('--log-level <level>', 'log level on stderr', 'info')
    .action(async (opts: { plugin: string[]; format: 'ndjson' | 'pretty'; duration?: number; logLevel: string }) => {
      await collect(opts);
    });

  return program;
}

