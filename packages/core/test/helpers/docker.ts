/** The busybox image .ci/run builds with `docker import` (no registry is reachable in CI). */
export const TEST_IMAGE = 'boxwatch-test/busybox:latest';
