// rt_cxx - C++ exceptions (allocated with malloc by __cxa_allocate_exception,
// thrown through several frames, caught) and new/delete reaching malloc.
#include <stdexcept>
#include <string>
#include <vector>
extern "C" {
#include "tlog.h"
}

static int depth(int n) {
    if (n == 0) throw std::runtime_error(std::string(100, 'x'));
    std::vector<int> v(n * 10);
    return depth(n - 1) + (int)v.size();
}

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    int caught = 0;
    for (int i = 0; i < 2000; i++) {
        try { depth(i % 10); } catch (const std::exception &e) { caught++; }
        char *p = new char[3050];
        tlog("malloc", 3050, 0, 0, (uintptr_t)p);
        tlog("free", (uintptr_t)p, 0, 0, 0);
        delete[] p;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(path, "w"); fputs("end 0 0\n", f); fclose(f);
    return caught == 2000 ? 0 : 1;
}
