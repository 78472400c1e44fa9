/* par.c: see par.h. */
#include "par.h"

#include <pthread.h>
#include <unistd.h>

typedef struct {
	hsi_par_fn fn;
	void      *arg;
	size_t     lo, hi;
	int        rv;
	pthread_t  th;
} job;

static void *
job_main(void *p)
{
	job *j = p;
	j->rv  = j->fn(j->arg, j->lo, j->hi);
	return NULL;
}

int
hsi_par_for(hsi_par_fn fn, void *arg, size_t n, size_t min_par)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int  k    = cpus < 1             ? 1
	        : cpus > HSI_PAR_THREADS ? HSI_PAR_THREADS
	                                 : (int) cpus;
	if (n < min_par || k == 1 || n < (size_t) k) {
		return fn(arg, 0, n);
	}
	job j[HSI_PAR_THREADS];
	int started[HSI_PAR_THREADS] = { 0 };
	for (int t = 0; t < k; t++) {
		j[t].fn  = fn;
		j[t].arg = arg;
		j[t].lo  = n * (size_t) t / (size_t) k;
		j[t].hi  = n * (size_t) (t + 1) / (size_t) k;
		j[t].rv  = 0;
	}
	for (int t = 1; t < k; t++) {
		started[t]
		    = pthread_create(&j[t].th, NULL, job_main, &j[t]) == 0;
		if (!started[t]) {
			job_main(&j[t]);
		}
	}
	job_main(&j[0]);
	int rv = j[0].rv;
	for (int t = 1; t < k; t++) {
		if (started[t]) {
			pthread_join(j[t].th, NULL);
		}
		rv = rv ? rv : j[t].rv;
	}
	return rv;
}
