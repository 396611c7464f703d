import { Command, InvalidArgumentError, Option } from 'commander';
import { doctor, formatDoctor } from './commands/doctor.js';
import { collect } from './commands/collect.js';
import { run } from './commands/run.js';
import { agent } from './commands/agent.js';
import { detect } from './commands/detect.js';
import { lintRules } from './commands/rules-lint.js';
import { loadConfig } from './config/load.js';
import { addConfigFlags, flagValues } from './config/flags.js';
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

/**
 * A long-running command has drained and detached everything when it returns; if a stray handle (a
 * socket a library keeps) would hold the process, exit anyway after a grace period.
 */
function exitAfter(task: Promise<void>): Promise<void> {
  return task.then(() => {
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  });
}

export function buildProgram(): Command {
  const program = new Command('boxwatch').description('eBPF runtime security for Linux containers').showHelpAfterError();

  const runCmd = program
    .command('run')
    .description('collection + detection in one process: alerts on screen, control API on 127.0.0.1 (no broker)');
  addConfigFlags(runCmd, 'run').action(async (opts: { config?: string }) => {
    await exitAfter(run(loadConfig(opts.config, flagValues(runCmd, 'run'))));
  });

  const agentCmd = program.command('agent').description('collect on this host: events to Kafka (or stdout) and the HTTP control API');
  addConfigFlags(agentCmd, 'agent').action(async (opts: { config?: string }) => {
    await exitAfter(agent(loadConfig(opts.config, flagValues(agentCmd, 'agent'))));
  });

  const detectCmd = program.command('detect').description('the detector as a service: Kafka consumer group in, alerts out (stdout, Kafka, HTTP, SSE)');
  addConfigFlags(detectCmd, 'detect').action(async (opts: { config?: string }) => {
    await exitAfter(detect(loadConfig(opts.config, flagValues(detectCmd, 'detect'))));
  });

  const rules = program.command('rules').description('rule file tools');
  rules
    .command('lint')
    .description('check rule files (in order, as the detector loads them); prints file:line problems, exits 1 on any')
    .argument('<file...>', 'rule files')
    .option('--with-default', 'load the shipped default rules first (for files using their lists and macros)')
    .action((files: string[], opts: { withDefault?: boolean }) => {
      const r = lintRules(files, opts.withDefault === true);
      for (const e of r.errors) process.stderr.write(`${e}\n`);
      process.stdout.write(`${r.rules} rule(s) compiled, ${r.errors.length} problem(s)\n`);
      if (r.errors.length) process.exitCode = 1;
    });

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
