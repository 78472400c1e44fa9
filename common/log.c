/*
 * log.c: JSON-lines logger. Lines are built in memory and written with a
 * single write(2) so lines from several threads never interleave.
 */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

static const char        *log_svc = "hsi";
static enum hsi_log_level log_min = HSI_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
hsi_log_init(const char *svc, enum hsi_log_level min_level)
{
	log_svc = svc;
	log_min = min_level;
}

int
hsi_log_level_parse(const char *name, enum hsi_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum hsi_log_level) i;
			return 0;
		}
	}
	return HSI_EINVAL;
}

static void
format_ts(char *buf, size_t size)
{
	struct timespec ts;
	struct tm       tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void
hsi_log(enum hsi_log_level lvl, const char *msg, const char *fmt, ...)
{
	if (lvl < log_min) {
		return;
	}
	json_t *obj = NULL;
	if (fmt != NULL) {
		va_list      ap;
		json_error_t jerr;
		va_start(ap, fmt);
		obj = json_vpack_ex(&jerr, 0, fmt, ap);
		va_end(ap);
		if (obj == NULL) {
			/* A bad format is a programming error; keep the
			 * message and say what went wrong rather than drop. */
			obj = json_pack("{s:s}", "log_error", jerr.text);
		}
	} else {
		obj = json_object();
	}
	if (obj == NULL) {
		return;
	}
	char ts[40];
	format_ts(ts, sizeof(ts));
	json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level",
	    level_names[lvl], "svc", log_svc, "msg", msg);
	if (line == NULL) {
		json_decref(obj);
		return;
	}
	json_object_update(line, obj);
	json_decref(obj);
	char *text = json_dumps(line,
	    JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(line);
	if (text == NULL) {
		return;
	}
	size_t len  = strlen(text);
	text[len++] = '\n'; /* json_dumps' NUL becomes the newline */
	ssize_t w   = write(STDERR_FILENO, text, len);
	(void) w;
	free(text);
}
