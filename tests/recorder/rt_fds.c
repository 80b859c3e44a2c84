/* rt_fds - a program that closes every descriptor (close loop, closefrom,
 * close_range) and dup2s /dev/null over every descriptor, allocating in
 * between: the trace must stay complete. */
#include <dirent.h>
#include <sys/resource.h>
#include "tlog.h"

int main(int argc, char **argv) {
    (void)argc;
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w"); fputs("end 0 0\n", f); fclose(f);
    tlog_open(argv[1], 0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int const max = rl.rlim_cur > 4096 ? 4096 : (int)rl.rlim_cur;
    for (int i = 0; i < 2000; i++) T_free(T_malloc(3030));
    int const logfd = tlog_fd;
    for (int fd = 3; fd < max; fd++) if (fd != logfd) close(fd);
    for (int i = 0; i < 2000; i++) T_free(T_malloc(3031));
    int nul = open("/dev/null", O_RDWR);
    for (int fd = 3; fd < max; fd++) if (fd != logfd && fd != nul) dup2(nul, fd);
    for (int i = 0; i < 2000; i++) T_free(T_malloc(3032));
    for (int fd = 3; fd < max; fd++) if (fd != logfd) close(fd);
    closefrom(logfd + 1);
    close_range(3, (unsigned)logfd - 1, 0);
    for (int i = 0; i < 2000; i++) T_free(T_malloc(3033));
    return 0;
}
