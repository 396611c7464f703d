import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { docker } from './docker.js';

const run = promisify(execFile);

/** The busybox image tests run (no registry is needed: it is assembled from busybox-static). */
export const TEST_IMAGE = 'boxwatch-test/busybox:latest';

/**
 * Build the test image if it is missing, with the same recipe as scripts/test-image.sh: Debian's
 * static busybox plus applet links, a passwd/shadow pair, imported with `docker import`.
 */
export async function ensureTestImage(): Promise<void> {
  try {
    await docker('image', 'inspect', TEST_IMAGE);
    return;
  } catch {
    /* build it */
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'bw-busybox-'));
  try {
    for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'var/log', 'usr/bin', 'sbin']) await mkdir(path.join(dir, d), { recursive: true });
    await copyFile('/bin/busybox', path.join(dir, 'bin/busybox'));
    const { stdout } = await run('/bin/busybox', ['--list']);
    // `busybox --list` names busybox itself: linking it would replace the binary with a loop.
    for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) await symlink('busybox', path.join(dir, 'bin', applet));
    await chmod(path.join(dir, 'tmp'), 0o1777);
    await writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    await writeFile(path.join(dir, 'etc/group'), 'root:x:0:\n');
    await writeFile(path.join(dir, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o600 });
    await run('sh', ['-c', `tar -C '${dir}' -c . | docker import -c 'CMD ["/bin/sh"]' - ${TEST_IMAGE}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
