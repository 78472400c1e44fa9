/*
 * par.h: a parallel for over [0, n) in up to HSI_PAR_THREADS slices, for
 * the engine's passes over 72,550 rows (7,255 tambon x 10 years). Slices
 * must write disjoint memory; there is no locking.
 */
#ifndef HSI_PAR_H
#define HSI_PAR_H

#include <stddef.h>

#define HSI_PAR_THREADS 4

/* A slice: returns 0 or an hsi error. */
typedef int (*hsi_par_fn)(void *arg, size_t lo, size_t hi);

/*
 * Runs fn over [0, n): in the caller alone when n < min_par or there is
 * one CPU, else in min(CPUs, HSI_PAR_THREADS) slices, the caller taking
 * the first (a thread that cannot start runs in the caller). Returns the
 * first error of any slice.
 */
int hsi_par_for(hsi_par_fn fn, void *arg, size_t n, size_t min_par);

#endif
