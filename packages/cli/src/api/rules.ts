/**
 * The rules the detector runs, for the console's Rules view: GET /v1/rules lists them (with the
 * rules left out: disabled in their file, or not compiling) and POST /v1/rules/lint compiles an
 * uploaded rules file exactly as `boxwatch rules lint --with-default` does (after the default rules,
 * whose lists and macros it may use) and answers every problem with its line. Lint never changes
 * the running rules.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { silentLogger } from '@boxwatch/core';
import { RuleEngine, defaultRulesPath, type Detector } from '@boxwatch/detector';

/** The name uploaded text is compiled under (problems in it carry this file name). */
export const UPLOAD_FILE = 'upload.yaml';
const lintBodySchema = z.object({ text: z.string() }).strict();

export function registerRulesRoutes(api: FastifyInstance, detector: Detector, badRequest: (reply: FastifyReply, field: string, message: string) => unknown): void {
  api.get('/v1/rules', async () => {
    const set = detector.rules;
    return {
      rules: (set?.rules ?? []).map((r) => ({ name: r.name, desc: r.desc, priority: r.priority, tags: r.tags, types: r.types, engine: r.engine, file: r.file, line: r.line })),
      disabled: set?.disabled ?? [],
      errors: detector.ruleErrors.map((e) => ({ file: e.file ?? null, line: e.line ?? null, message: e.message })),
    };
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
