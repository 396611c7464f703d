/**
 * The default way to find a container's init process: ask Docker (`State.Pid`). Only called when a
 * container is first seen (or seen again after a restart), so one inspect per container lifetime.
 */
import Docker from 'dockerode';

export function dockerInitPid(docker: Docker = new Docker()): (containerId: string) => Promise<number | null> {
  return async (containerId) => {
    try {
      const info = await docker.getContainer(containerId).inspect();
      return info.State.Running && info.State.Pid > 0 ? info.State.Pid : null;
    } catch (err) {
      // Removed between list and inspect: the container is simply gone.
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  };
}
