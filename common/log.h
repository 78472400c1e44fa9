/*
 * log.h: structured logs, one JSON object per line on stderr:
 *   {"ts":"2026-11-23T20:14:19.123Z","level":"info","svc":"scorer",
 *    "msg":"file applied","agency":"DOH","rows":154}
 * Extra fields are given as a jansson json_pack format and its arguments,
 * so call sites stay one line and the output is always valid JSON.
 */
#ifndef HSI_LOG_H
#define HSI_LOG_H

enum hsi_log_level {
	HSI_LOG_DEBUG = 0,
	HSI_LOG_INFO,
	HSI_LOG_WARN,
	HSI_LOG_ERROR,
};

/* Sets the service name and the minimum level; call once at start. */
void hsi_log_init(const char *svc, enum hsi_log_level min_level);

/* Parses "debug", "info", "warn", "error"; returns 0 or HSI_EINVAL. */
int hsi_log_level_parse(const char *name, enum hsi_log_level *out);

/*
 * Writes one line. fmt is a json_pack object format such as
 * "{s:s, s:i}" (or NULL for no extra fields). Thread-safe: a line is
 * written with one write(2).
 */
void hsi_log(enum hsi_log_level lvl, const char *msg, const char *fmt, ...);

#define hsi_log_info(msg, ...) hsi_log(HSI_LOG_INFO, msg, __VA_ARGS__)
#define hsi_log_warn(msg, ...) hsi_log(HSI_LOG_WARN, msg, __VA_ARGS__)
#define hsi_log_error(msg, ...) hsi_log(HSI_LOG_ERROR, msg, __VA_ARGS__)
#define hsi_log_debug(msg, ...) hsi_log(HSI_LOG_DEBUG, msg, __VA_ARGS__)

#endif
