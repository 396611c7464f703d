/**
 * The rules the detector runs, for the console's Rules view: GET /v1/rules lists them with their
 * state (and the rules left out: disabled in their file, or not compiling), POST
 * /v1/rules/:name/enable|disable switches one at run time (like the plugins' on/off), and POST
 * /v1/rules/lint compiles an uploaded rules file exactly as `boxwatch rules lint --with-default`
 * does (after the default rules, whose lists and macros it may use) and answers every problem with
 * its line. Lint never changes the running rules.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { isBoxwatchError, silentLogger } from '@boxwatch/core';
import { RuleEngine, defaultRulesPath, type CompiledRule, type Detector, type RuleSet } from '@boxwatch/detector';

/** The name uploaded text is compiled under (problems in it carry this file name). */
export const UPLOAD_FILE = 'upload.yaml';
const lintBodySchema = z.object({ text: z.string() }).strict();

export function registerRulesRoutes(api: FastifyInstance, detector: Detector, badRequest: (reply: FastifyReply, field: string, message: string) => unknown): void {
  api.get('/v1/rules', async () => {
    const set = detector.rules;
    return {
      rules: (set?.loaded ?? []).map((r) => ruleView(r, set!)),
      disabled: set?.disabled ?? [],
      // Every name the API holds off, also those no rule file defines now (kept: such a rule comes back off).
      apiDisabled: [...(set?.runtimeDisabled ?? [])],
      errors: detector.ruleErrors.map((e) => ({ file: e.file ?? null, line: e.line ?? null, message: e.message })),
    };
  });

  api.post<{ Params: { name: string; action: string } }>('/v1/rules/:name/:action', async (req, reply) => {
    const { name, action } = req.params;
    if (action !== 'enable' && action !== 'disable') return reply.code(404).send({ error: 'Not Found', message: `no action '${action}' (enable or disable)` });
    let set: RuleSet;
    try {
      set = detector.setRuleEnabled(name, action === 'enable');
    } catch (err) {
      if (isBoxwatchError(err, 'ERR_NOT_FOUND')) return reply.code(404).send({ error: 'Not Found', field: 'name', message: err.message });
      if (isBoxwatchError(err, 'ERR_STATE')) return reply.code(409).send({ error: 'Conflict', field: 'name', message: err.message });
      // The state file could not be written: the rule was left as it was.
      return reply.code(500).send({ error: 'Internal Server Error', message: `${(err as Error).message}; the rule was not switched` });
    }
    const rule = set.loaded.find((r) => r.name === name);
    // A name only the run-time set held is forgotten by enable: it has no rule to show.
    return rule ? ruleView(rule, set) : { name, forgotten: true };
  });

  api.post('/v1/rules/lint', async (req, reply) => {
    const parsed = lintBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) return badRequest(reply, `body.${parsed.error.issues[0]!.path.join('.') || 'text'}`, parsed.error.issues[0]!.message);
    const engine = new RuleEngine({ sources: [defaultRulesPath(), { file: UPLOAD_FILE, text: parsed.data.text }], logger: silentLogger });
    const set = engine.current;
    engine.close();
    const mine = set.rules.filter((r) => r.file === UPLOAD_FILE);
    return {
      ok: set.errors.length === 0,
      rules: mine.map((r) => ({ name: r.name, line: r.line })),
      errors: set.errors.map((e) => ({ file: e.file ?? null, line: e.line ?? null, message: e.message })),
    };
  });
}

/** A loaded rule with its state: `setBy` says whether its file or the API decided it. */
function ruleView(r: CompiledRule, set: RuleSet) {
  const off = set.runtimeDisabled.has(r.name);
  return { name: r.name, desc: r.desc, priority: r.priority, tags: r.tags, types: r.types, engine: r.engine, file: r.file, line: r.line, enabled: !off, setBy: off ? 'api' : 'file' };
}
