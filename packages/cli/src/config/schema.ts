/**
 * The boxwatch configuration: one YAML file shared by `run`, `agent` and `detect`. Every command-line
 * flag maps onto one field here (see FLAG_FIELDS in load.ts), so anything typed on the command line can
 * also live in the file. Unknown keys are errors: a typo must not silently fall back to a default.
 */
import { z } from 'zod';

export const PLUGIN_CHOICES = ['syscall', 'fileopen', 'cnetwork', 'resources'] as const;
export const FORMATS = ['pretty', 'ndjson'] as const;
export const OUTPUTS = ['kafka', 'ndjson', 'pretty', 'none'] as const;

// A plugin key with only comments under it is YAML null: same as no options.
const pluginOptions = z.record(z.string(), z.unknown()).nullable();

export const configSchema = z
  .object({
    /** pino level for the logs on stderr. */
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** Where learned models, the generated API token and the cnetwork rules added through the API are kept. */
    stateDir: z.string().min(1).default('/var/lib/boxwatch'),
    /** Alert output of run/detect: pretty lines or ndjson (default: pretty on a TTY). */
    format: z.enum(FORMATS).optional(),
    /** Live status line on stderr: auto (only on a TTY), always, never. */
    status: z.enum(['auto', 'always', 'never']).default('auto'),
    /** Stop after this many seconds (tests, demos); runs until SIGINT/SIGTERM when absent. */
    duration: z.number().positive().optional(),
    /** Collection plugins to run (agent and run). */
    plugins: z.array(z.enum(PLUGIN_CHOICES)).min(1).default([...PLUGIN_CHOICES]),
    /** Options handed to each plugin's constructor (see each plugin's docs). */
    pluginOptions: z
      .object({ syscall: pluginOptions.optional(), fileopen: pluginOptions.optional(), cnetwork: pluginOptions.optional(), resources: pluginOptions.optional() })
      .strict()
      .default({}),
    /**
     * In-kernel enforcement (docs/enforcement.md): policy files loaded at start. Off by default:
     * the enforce plugin runs only with a policy file, `enabled: true` (then policies can be
     * added through the control API) or policies saved by the API in `<stateDir>/enforce-policies.yaml`.
     */
    enforce: z
      .object({
        policies: z.array(z.string().min(1)).default([]),
        /** Run the enforce plugin without policy files; false: off, saved API policies unread (default: when there are policies). */
        enabled: z.boolean().optional(),
      })
      .strict()
      .default({ policies: [] }),
    /** Where the agent sends events: Kafka, ndjson/pretty on stdout, or nowhere (API only). */
    output: z.enum(OUTPUTS).default('kafka'),
    api: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(7070),
        /** Bearer token (at least 16 characters). Prefer tokenFile or BOXWATCH_API_TOKEN. */
        token: z.string().optional(),
        /** Token file; generated (0600) on first start when missing. Default <stateDir>/api-token. */
        tokenFile: z.string().min(1).optional(),
      })
      .strict()
      .default({ enabled: true, host: '127.0.0.1', port: 7070 }),
    kafka: z
      .object({
        brokers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('127.0.0.1:9092'),
        topicPrefix: z.string().regex(/^[A-Za-z0-9._-]+$/, 'only letters, digits, ".", "_" and "-"').default('boxwatch'),
        /** Consumer group of `detect`: detectors with the same group split the partitions. */
        groupId: z.string().min(1).default('boxwatch-detector'),
        /** A new group starts at the oldest event (true) or only sees new ones (false). */
        fromBeginning: z.boolean().default(false),
        /** Extra KafkaSink options (lingerMs, batchSize, queueSize, compression, ...). */
        sink: z.record(z.string(), z.unknown()).default({}),
        /** Extra KafkaSource options (sessionTimeoutMs, partitionsConsumedConcurrently, ...). */
        source: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .default({ brokers: '127.0.0.1:9092', topicPrefix: 'boxwatch', groupId: 'boxwatch-detector', fromBeginning: false, sink: {}, source: {} }),
    detector: z
      .object({
        /** Rule files in load order; `default` is the shipped rule set. */
        rules: z.array(z.string().min(1)).default(['default']),
        watchRules: z.boolean().default(false),
        /** Learned models on/off. */
        models: z.boolean().default(true),
        /** First-run learning period per image, in minutes. */
        learnMinutes: z.number().positive().default(10),
        /** Model file; default <stateDir>/models.json. Loaded at start, saved periodically and at stop. */
        modelsFile: z.string().min(1).optional(),
        saveIntervalSeconds: z.number().positive().default(60),
        /** detect: also publish alerts to Kafka `<topicPrefix>.alerts`. */
        alertsToKafka: z.boolean().default(true),
        /** Alerts kept in memory for GET /v1/alerts. */
        alertBuffer: z.number().int().min(1).max(1_000_000).default(10_000),
        /**
         * `run`: longest a rule alert waits for the name of a container the kernel saw before its
         * runtime answered (ms; 0 = never waits). Events are never held.
         */
        alertNameWaitMs: z.number().int().min(0).max(500).default(500),
      })
      .strict()
      .default({ rules: ['default'], watchRules: false, models: true, learnMinutes: 10, saveIntervalSeconds: 60, alertsToKafka: true, alertBuffer: 10_000, alertNameWaitMs: 500 }),
  })
  .strict();

export type BoxwatchConfig = z.output<typeof configSchema>;
export type BoxwatchConfigInput = z.input<typeof configSchema>;
