/* Fault injection for the accept-failure tests: LD_PRELOAD this, and every second SSL_new()
 * fails (returns NULL), so creating a TLS session for a new connection throws in vigil. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

typedef void* (*ssl_new_fn)(void*);

void* SSL_new(void* ctx) {
    static atomic_int calls;
    ssl_new_fn real = (ssl_new_fn)dlsym(RTLD_NEXT, "SSL_new");
    if (atomic_fetch_add(&calls, 1) % 2 == 1) {
        return NULL;
    }
    return real(ctx);
}
