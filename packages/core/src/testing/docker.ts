import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Run the docker CLI; returns trimmed stdout, throws on a non-zero exit. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `docker exec` that reports a non-zero exit instead of throwing (tests often expect failures). */
export async function dockerExec(container: string, ...cmd: string[]): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await run('docker', ['exec', container, ...cmd], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
