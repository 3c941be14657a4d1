/* pf_wire.c - the growing and draining of pf_wbuf (see pf_wire.h). */
#include "pf_wire.h"
#include "pf_util.h"

#include <stdlib.h>

void pf_wbuf_sink(pf_wbuf *b, pf_write_fn fn, void *ctx)
{
    b->sink = fn;
    b->sink_ctx = ctx;
}

pf_code pf_wbuf_flush(pf_wbuf *b)
{
    if (b->sink != NULL && b->status == PF_OK && b->len > 0 &&
        b->sink(b->sink_ctx, b->data, b->len) != 0)
        b->status = PF_ERR_WRITE;
    if (b->sink != NULL)
        b->len = 0;
    return b->status;
}

int pf_wbuf_reserve(pf_wbuf *b, size_t n)
{
    if (b->status != PF_OK)
        return -1;
    if (b->sink != NULL && b->len + n > PF_WBUF_DRAIN && pf_wbuf_flush(b) != PF_OK)
        return -1;
    if (b->len + n < b->len ||
        pf_grow(&b->data, &b->cap, b->len + n < 256 ? 256 : b->len + n, 1) != 0) {
        b->status = PF_ERR_NOMEM;
        return -1;
    }
    return 0;
}

void pf_wbuf_free(pf_wbuf *b)
{
    free(b->data);
    *b = (pf_wbuf)PF_WBUF_INIT;
}
