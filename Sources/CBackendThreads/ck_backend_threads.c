// SANE backends that read in a thread (sanei_thread) make that thread asynchronously cancellable and cancel
// it at the end of every frame. POSIX allows only three functions to run under asynchronous cancellation:
// a cancel that lands inside malloc or free leaves the arena lock taken, and the process deadlocks. Seen with
// libsane's test backend: the reader, cancelled inside free, waits at its exit on the arena lock it still
// holds, while sane_read waits to join it.
//
// This definition takes the place of libc's for every library of the process (the executable's symbols come
// first in the dynamic linker's search), and turns asynchronous into deferred: a cancelled reader then ends
// at its next cancellation point (its pipe write, a read, a sleep), where glibc holds no lock.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include "ck_backend_threads.h"

typedef int (*set_cancel_type_function)(int, int *);

static set_cancel_type_function libc_set_cancel_type(void) {
    static set_cancel_type_function found;
    set_cancel_type_function function = __atomic_load_n(&found, __ATOMIC_ACQUIRE);
    if (!function) {
        function = (set_cancel_type_function)dlsym(RTLD_NEXT, "pthread_setcanceltype");
        __atomic_store_n(&found, function, __ATOMIC_RELEASE);
    }
    return function;
}

int pthread_setcanceltype(int type, int *oldtype) {
    set_cancel_type_function function = libc_set_cancel_type();
    if (!function) return 38;  // ENOSYS
    return function(type == PTHREAD_CANCEL_ASYNCHRONOUS ? PTHREAD_CANCEL_DEFERRED : type, oldtype);
}

int ck_deferred_cancel_in_effect(void) {
    return dlsym(RTLD_DEFAULT, "pthread_setcanceltype") == (void *)&pthread_setcanceltype;
}
