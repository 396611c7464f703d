/* Print verified_insns (bpf_prog_info, kernel 5.16+) of loaded programs whose name starts with an argument
 * (names are cut to 15 bytes by the kernel). bpftool 7.1 does not show the field. Build:
 * clang -O1 -o verified-insns verified-insns.c -lbpf */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
int main(int argc, char **argv) {
  unsigned int id = 0;
  while (!bpf_prog_get_next_id(id, &id)) {
    int fd = bpf_prog_get_fd_by_id(id); if (fd < 0) continue;
    struct bpf_prog_info info; memset(&info, 0, sizeof info); unsigned int len = sizeof info;
    if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
      for (int i = 1; i < argc; i++) if (!strncmp(info.name, argv[i], 15)) printf("%s %u\n", argv[i], info.verified_insns);
    }
    close(fd);
  }
}
