/* fuzz_reader.c - libFuzzer target: any bytes given to the reader end in
 * events, a clean end or an error; never a crash, a hang or a leak. */
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tr_error_t err;
    tr_reader_t *r = tr_reader_open_mem(data, size, &err);
    if (!r) return 0;
    /* a third of the inputs through the decode-ahead threads, some of them
     * closed early (the threads stopped mid-stream) */
    int const ahead = size % 3 == 0, early = ahead && size % 2 == 0;
    if (ahead) tr_reader_decode_ahead(r);
    else if (size % 3 == 1 && size % 2) tr_reader_readahead(r); /* decompression only */
    tr_event_t ev;
    uint64_t sum = 0, n_ev = 0;
    while (tr_reader_next(r, &ev) > 0) {
        if (early && ++n_ev > 50) break;
        const uint64_t *pcs;
        uint32_t const n = tr_reader_stack(r, ev.stack, &pcs);
        for (uint32_t i = 0; i < n; i++) sum += pcs[i];
        sum += ev.seq + ev.a + (ev.str ? (uint8_t)ev.str[0] : 0);
    }
    for (size_t i = 0; i < tr_reader_module_count(r); i++) sum += tr_reader_module(r, i)->size;
    tr_reader_close(r);
    return (int)(sum & 0);
}
