/**
 * Everything the plugin keeps about one running container: its open accounting files and the
 * previous sample the next rates are computed against. Opened on the first interval a container
 * is seen, closed when it disappears.
 */
import { readFile, readlink } from 'node:fs/promises';
import { findContainerCgroup, type CgroupLayout } from './cgroup-layout.js';
import { openCgroupReader, type CgroupReader } from './cgroup-reader.js';
import { isVanished, PinnedFile } from './pinned-file.js';
import { parseNetDev } from './parse.js';
import type { RawSample } from './usage.js';

export interface SamplerEnv {
  layout: CgroupLayout;
  procRoot: string;
  initPid: (containerId: string) => Promise<number | null>;
  /** The agent's own network namespace (`net:[inode]`), to spot `--network host` containers. */
  hostNetNs: string | null;
}

export class ContainerSampler {
  /** The previous sample; rates of the next one are computed against it. */
  prev: RawSample | null = null;

  private constructor(
    readonly containerId: string,
    readonly initPid: number,
    private readonly cgroup: CgroupReader,
    private readonly netDev: PinnedFile | null,
  ) {}

  /**
   * Opens a container's accounting. Resolves null when it is not running (any more), or its cgroup or
   * process cannot be found: a container stopping while we look is normal, not an error.
   */
  static async open(env: SamplerEnv, containerId: string): Promise<ContainerSampler | null> {
    const pid = await env.initPid(containerId);
    if (pid === null || pid <= 0) return null;

    const procDir = `${env.procRoot}/${pid}`;
    const procCgroup = await readFile(`${procDir}/cgroup`, 'latin1').catch(() => null);
    // The pid came from the runtime a moment ago; if it already belongs to another cgroup the
    // container exited and the pid was reused. (Paths always name the id, even across cgroup namespaces.)
    if (procCgroup === null || !procCgroup.includes(containerId)) return null;

    const cg = await findContainerCgroup(env.layout, containerId, procCgroup);
    if (cg === null) return null;

    let cgroup: CgroupReader | null = null;
    let netDev: PinnedFile | null = null;
    try {
      cgroup = await openCgroupReader(cg);
      if (!(await sharesNetNs(env, procDir))) netDev = await PinnedFile.open(`${procDir}/net/dev`, 1024);
      return new ContainerSampler(containerId, pid, cgroup, netDev);
    } catch (err) {
      await cgroup?.close();
      await netDev?.close();
      if (isVanished(err)) return null;
      throw err;
    }
  }

  /** Reads the counters now. Rejects with ENODEV/ENOENT/ESRCH when the container is gone. */
  async sample(): Promise<RawSample> {
    const before = process.hrtime.bigint();
    const [cgroup, netText] = await Promise.all([this.cgroup.read(), this.netDev?.readText() ?? null]);
    const after = process.hrtime.bigint();
    // The reads ran somewhere between issue and completion on the thread pool; the midpoint keeps
    // the error of the interval length to half the queueing delay.
    return { monoNs: (before + after) / 2n, cgroup, net: netText === null ? null : parseNetDev(netText) };
  }

  async close(): Promise<void> {
    await Promise.all([this.cgroup.close(), this.netDev?.close()]);
  }
}

/** True when the process lives in the agent's own network namespace, whose counters are the host's. */
async function sharesNetNs(env: SamplerEnv, procDir: string): Promise<boolean> {
  if (env.hostNetNs === null) return false;
  const ns = await readlink(`${procDir}/ns/net`).catch(() => null);
  return ns === env.hostNetNs;
}
