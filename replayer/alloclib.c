/* alloclib.c - allocator names to libraries, and a check that a library
 * really defines the malloc API (read from its ELF dynamic symbol table,
 * without loading it into the parent). */
#include "replay.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const k_funcs[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
    "posix_memalign", "aligned_alloc", "valloc", "pvalloc",
};

static const struct { const char *name; int kind; const char *paths[3]; } k_known[] = {
    { "tcmalloc", RP_ALLOC_TCMALLOC, { "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
                                       "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", NULL } },
    { "jemalloc", RP_ALLOC_JEMALLOC, { "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", NULL, NULL } },
    { "mimalloc", RP_ALLOC_MIMALLOC, { "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", NULL, NULL } },
};

/* Bit i of *defined set when k_funcs[i] is a defined dynamic symbol. */
static int elf_funcs(const char *path, unsigned *defined, char *err, size_t errlen) {
    int const fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        snprintf(err, errlen, "%s: not a shared library (not a regular ELF file)", path);
        return -1;
    }
    size_t const size = (size_t)st.st_size;
    const uint8_t *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    const Elf64_Ehdr *eh = (const void *)m;
    int rc = -1;
    *defined = 0;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64) {
        snprintf(err, errlen, "%s: not an x86-64 ELF shared library", path);
        goto out;
    }
    if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        eh->e_shoff > size || (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum) {
        snprintf(err, errlen, "%s: ELF section table out of bounds", path);
        goto out;
    }
    const Elf64_Shdr *sh = (const void *)(m + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM) continue;
        if (sh[i].sh_link >= eh->e_shnum) break;
        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            strs->sh_offset > size || strs->sh_size > size - strs->sh_offset) break;
        const Elf64_Sym *sym = (const void *)(m + sh[i].sh_offset);
        size_t const n = sh[i].sh_size / sizeof(Elf64_Sym);
        const char *names = (const char *)(m + strs->sh_offset);
        for (size_t k = 0; k < n; k++) {
            if (sym[k].st_shndx == SHN_UNDEF || sym[k].st_name >= strs->sh_size) continue;
            int const type = ELF64_ST_TYPE(sym[k].st_info), bind = ELF64_ST_BIND(sym[k].st_info);
            if ((type != STT_FUNC && type != STT_GNU_IFUNC) || (bind != STB_GLOBAL && bind != STB_WEAK)) continue;
            const char *nm = names + sym[k].st_name;
            size_t const room = strs->sh_size - sym[k].st_name;
            for (unsigned f = 0; f < sizeof k_funcs / sizeof *k_funcs; f++)
                if (strnlen(nm, room) == strlen(k_funcs[f]) && !strcmp(nm, k_funcs[f])) *defined |= 1u << f;
        }
        break;
    }
    if (!(*defined & 1u)) {
        snprintf(err, errlen, "%s: the library does not define malloc", path);
        goto out;
    }
    for (unsigned f = 1; f < 4; f++)
        if (!(*defined & (1u << f))) {
            snprintf(err, errlen, "%s: the library defines malloc but not %s", path, k_funcs[f]);
            goto out;
        }
    rc = 0;
out:
    munmap((void *)m, size);
    return rc;
}

int rp_resolve_alloc(const char *name, char *path, size_t pathlen, int *kind, unsigned *funcs,
                     char *err, size_t errlen) {
    *funcs = ~0u;
    if (!strcmp(name, "glibc") || !strcmp(name, "libc")) {
        path[0] = 0;
        *kind = RP_ALLOC_GLIBC;
        return 0;
    }
    if (!strcmp(name, "null")) {
        path[0] = 0;
        *kind = RP_ALLOC_NULL;
        return 0;
    }
    for (unsigned i = 0; i < sizeof k_known / sizeof *k_known; i++) {
        if (strcmp(name, k_known[i].name)) continue;
        for (int j = 0; j < 3 && k_known[i].paths[j]; j++)
            if (access(k_known[i].paths[j], R_OK) == 0) {
                snprintf(path, pathlen, "%s", k_known[i].paths[j]);
                *kind = k_known[i].kind;
                return elf_funcs(path, funcs, err, errlen);
            }
        snprintf(err, errlen, "%s: allocator library not installed (%s)", name, k_known[i].paths[0]);
        return -1;
    }
    if (!strchr(name, '/')) {
        snprintf(err, errlen, "%s: unknown allocator (use glibc, tcmalloc, jemalloc, mimalloc or a path to a library)",
                 name);
        return -1;
    }
    if (strlen(name) >= pathlen) {
        snprintf(err, errlen, "%.64s...: path too long", name);
        return -1;
    }
    snprintf(path, pathlen, "%s", name);
    *kind = RP_ALLOC_OTHER;
    if (strstr(name, "jemalloc")) *kind = RP_ALLOC_JEMALLOC;
    else if (strstr(name, "tcmalloc")) *kind = RP_ALLOC_TCMALLOC;
    else if (strstr(name, "mimalloc")) *kind = RP_ALLOC_MIMALLOC;
    return elf_funcs(path, funcs, err, errlen);
}
