// Keeps every thread of the scan worker cancellable only at cancellation points.
#ifndef COUNTERKIT_BACKEND_THREADS_H
#define COUNTERKIT_BACKEND_THREADS_H

/// 1 when a call to pthread_setcanceltype from a library loaded later (a SANE backend) reaches
/// CounterKit's version, which keeps cancellation deferred; 0 when it would reach libc's.
int ck_deferred_cancel_in_effect(void);
#endif
