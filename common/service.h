/*
 * service.h: what every service's main() does before its own work --
 * configuration, logging and signals -- so the four binaries behave alike
 * (same --help, same exit codes: 0 after SIGTERM, 1 when PostgreSQL or a
 * socket is unusable, 2 for configuration errors).
 */
#ifndef HSI_SERVICE_H
#define HSI_SERVICE_H

#include <signal.h>

#include "config.h"

/*
 * Reads the configuration (hsi_config_main), checks that every key in
 * required (NULL-terminated) has a value, parses the "log_level" option
 * if the table has one and starts logging as svc. Returns -1 when main
 * should go on, else the exit code to return (0 after --help, 2 after a
 * configuration error, already explained on stderr).
 */
int hsi_service_init(const hsi_cfg_opt *opts, void *cfg, const char *prog,
    const char *svc, const char *summary, const char *const *required,
    int argc, char **argv);

/*
 * Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread
 * started after it, and ignores SIGPIPE; *set receives the blocked set for
 * sigwait/sigtimedwait. Call before any library starts a thread.
 */
void hsi_service_block_signals(sigset_t *set);

/* Makes SIGTERM and SIGINT set *flag (for poll-loop services); SIGPIPE
 * is ignored. */
void hsi_service_flag_signals(volatile sig_atomic_t *flag);

#endif
