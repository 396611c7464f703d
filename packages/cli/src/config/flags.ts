/**
 * Command-line flags of run/agent/detect and the config field each one sets. A flag given on the
 * command line wins over the file; the file wins over defaults. Keep this table and docs/cli.md in step.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { FieldPath, FlagValue } from './load.js';
import { FORMATS, OUTPUTS, PLUGIN_CHOICES } from './schema.js';

interface FlagSpec {
  /** commander flags, e.g. '--api-port <port>'. */
  flags: string;
  description: string;
  path: FieldPath;
  parse?: (v: string, prev?: unknown) => unknown;
  choices?: readonly string[];
  commands: ReadonlyArray<'run' | 'agent' | 'detect'>;
}

function number(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
}
const repeat = (v: string, prev: unknown) => [...((prev as string[] | undefined) ?? []), v];

const ALL = ['run', 'agent', 'detect'] as const;
const COLLECT = ['run', 'agent'] as const;
const DETECT = ['run', 'detect'] as const;

export const FLAG_SPECS: FlagSpec[] = [
  { flags: '--log-level <level>', description: 'log level on stderr (logLevel)', path: ['logLevel'], commands: ALL },
  { flags: '--state-dir <dir>', description: 'models, generated API token and API-added cnetwork rules live here (stateDir)', path: ['stateDir'], commands: ALL },
  { flags: '-f, --format <format>', description: 'alert/event line format (format)', path: ['format'], choices: FORMATS, commands: ALL },
  { flags: '--status <when>', description: 'live status line on stderr (status)', path: ['status'], choices: ['auto', 'always', 'never'], commands: ['run'] },
  { flags: '-d, --duration <seconds>', description: 'stop after this many seconds (duration)', path: ['duration'], parse: number, commands: ALL },
  { flags: '-p, --plugin <name>', description: `collection plugin, repeatable (plugins; ${PLUGIN_CHOICES.join(', ')})`, path: ['plugins'], parse: repeat, commands: COLLECT },
  { flags: '--policy <file>', description: 'enforcement policy file, repeatable (enforce.policies; docs/enforcement.md)', path: ['enforce', 'policies'], parse: repeat, commands: COLLECT },
  { flags: '-o, --output <output>', description: 'where the agent sends events (output)', path: ['output'], choices: OUTPUTS, commands: ['agent'] },
  { flags: '--api-host <host>', description: 'control API listen address (api.host)', path: ['api', 'host'], commands: ALL },
  { flags: '--api-port <port>', description: 'control API port, 0 = any free port (api.port)', path: ['api', 'port'], parse: number, commands: ALL },
  { flags: '--api-token-file <file>', description: 'bearer token file, generated 0600 when missing (api.tokenFile)', path: ['api', 'tokenFile'], commands: ALL },
  { flags: '--brokers <list>', description: 'Kafka brokers host:port[,host:port] (kafka.brokers)', path: ['kafka', 'brokers'], commands: ['agent', 'detect'] },
  { flags: '--topic-prefix <prefix>', description: 'Kafka topic prefix (kafka.topicPrefix)', path: ['kafka', 'topicPrefix'], commands: ['agent', 'detect'] },
  { flags: '--group-id <id>', description: 'Kafka consumer group (kafka.groupId)', path: ['kafka', 'groupId'], commands: ['detect'] },
  { flags: '--rules <file>', description: "rule file, repeatable; 'default' = shipped rules (detector.rules)", path: ['detector', 'rules'], parse: repeat, commands: DETECT },
  { flags: '--learn-minutes <minutes>', description: 'first-run learning period per image (detector.learnMinutes)', path: ['detector', 'learnMinutes'], parse: number, commands: DETECT },
  { flags: '--models-file <file>', description: 'learned model file (detector.modelsFile)', path: ['detector', 'modelsFile'], commands: DETECT },
];

/** Boolean switches: `--no-api` sets api.enabled false, etc. */
export const SWITCH_SPECS: Array<{ flags: string; description: string; path: FieldPath; value: boolean; commands: ReadonlyArray<'run' | 'agent' | 'detect'> }> = [
  { flags: '--no-api', description: 'do not serve the control API (api.enabled: false)', path: ['api', 'enabled'], value: false, commands: ALL },
  { flags: '--no-models', description: 'rules only, no learned models (detector.models: false)', path: ['detector', 'models'], value: false, commands: DETECT },
  { flags: '--from-beginning', description: 'a new consumer group starts at the oldest event (kafka.fromBeginning)', path: ['kafka', 'fromBeginning'], value: true, commands: ['detect'] },
];

export function addConfigFlags(cmd: Command, name: 'run' | 'agent' | 'detect'): Command {
  cmd.option('-c, --config <file>', 'YAML config file (see examples/boxwatch.yaml)');
  for (const f of FLAG_SPECS) {
    if (!f.commands.includes(name)) continue;
    const opt = new Option(f.flags, f.description);
    if (f.choices) opt.choices(f.choices);
    if (f.parse) opt.argParser(f.parse as (v: string, p: unknown) => unknown);
    cmd.addOption(opt);
  }
  for (const s of SWITCH_SPECS) if (s.commands.includes(name)) cmd.option(s.flags, s.description);
  return cmd;
}

/** The flags the user actually typed, as config field values. */
export function flagValues(cmd: Command, name: 'run' | 'agent' | 'detect'): FlagValue[] {
  const out: FlagValue[] = [];
  const opts = cmd.opts<Record<string, unknown>>();
  for (const f of FLAG_SPECS) {
    if (!f.commands.includes(name)) continue;
    const opt = cmd.options.find((o) => o.flags === f.flags)!;
    const key = opt.attributeName();
    if (cmd.getOptionValueSource(key) === 'cli') out.push({ flag: opt.long!, path: f.path, value: opts[key] });
  }
  for (const s of SWITCH_SPECS) {
    if (!s.commands.includes(name)) continue;
    const opt = cmd.options.find((o) => o.flags === s.flags)!;
    const key = opt.attributeName();
    if (cmd.getOptionValueSource(key) === 'cli') out.push({ flag: opt.long!, path: s.path, value: s.value });
  }
  return out;
}
