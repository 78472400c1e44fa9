/* service.c: the shared main() prologue (see service.h). */
#include "service.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static volatile sig_atomic_t *stop_flag;

static void
on_signal(int sig)
{
	(void) sig;
	*stop_flag = 1;
}

static const hsi_cfg_opt *
find(const hsi_cfg_opt *opts, const char *key)
{
	for (; opts->key != NULL; opts++) {
		if (strcmp(opts->key, key) == 0) {
			return opts;
		}
	}
	return NULL;
}

int
hsi_service_init(const hsi_cfg_opt *opts, void *cfg, const char *prog,
    const char *svc, const char *summary, const char *const *required,
    int argc, char **argv)
{
	int rv = hsi_config_main(opts, cfg, prog, summary, argc, argv);
	if (rv != 0) {
		return rv > 0 ? 0 : 2;
	}
	for (; required && *required; required++) {
		const hsi_cfg_opt *o = find(opts, *required);
		if (o && *(char **) ((char *) cfg + o->offset) == NULL) {
			char   env[64] = "HSI_";
			size_t k       = 4;
			for (const char *p = o->key; *p && k + 1 < sizeof(env);
			     p++) {
				env[k++] = (char) (*p >= 'a' && *p <= 'z'
				        ? *p - 'a' + 'A'
				        : *p);
			}
			env[k] = '\0';
			fprintf(stderr,
			    "%s: %s is required: set it in the --config file, "
			    "as %s or with --%s (see --help)\n",
			    prog, o->key, env, o->key);
			return 2;
		}
	}
	enum hsi_log_level lvl = HSI_LOG_INFO;
	const hsi_cfg_opt *lo  = find(opts, "log_level");
	const char *name = lo ? *(char **) ((char *) cfg + lo->offset) : NULL;
	if (name != NULL && hsi_log_level_parse(name, &lvl) != 0) {
		fprintf(stderr,
		    "%s: log_level '%s' is not debug, info, warn or error\n",
		    prog, name);
		return 2;
	}
	hsi_log_init(svc, lvl);
	return -1;
}

void
hsi_service_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
hsi_service_flag_signals(volatile sig_atomic_t *flag)
{
	struct sigaction sa;
	stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
