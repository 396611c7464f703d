/* ptattach: PTRACE_ATTACH to a pid (argv[1]); without one, or when that fails, fork a child and
 * attach to it (works under any Yama scope). Detaches at once. Built static by eval/run.mjs
 * (gcc -static) and copied into the scenario image: busybox has no ptrace tool. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int attach(pid_t pid) {
  if (ptrace(PTRACE_ATTACH, pid, 0, 0) != 0) { perror("PTRACE_ATTACH"); return -1; }
  waitpid(pid, 0, __WALL);
  long word = ptrace(PTRACE_PEEKDATA, pid, (void *)0x400000, 0);
  (void)word;
  ptrace(PTRACE_DETACH, pid, 0, 0);
  printf("attached to %d\n", pid);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && attach((pid_t)atoi(argv[1])) == 0) return 0;
  pid_t child = fork();
  if (child == 0) { for (;;) pause(); }
  usleep(100000);
  int r = attach(child);
  kill(child, SIGKILL);
  waitpid(child, 0, 0);
  return r == 0 ? 0 : 1;
}
