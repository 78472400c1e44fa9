/*
 * summary.c: alert texts for people (see summary.h). They go into the
 * alert's annotations, the AlertEvent and, later, notifications, so they
 * are built once here, when the transition is decided.
 */
#include "summary.h"

#include <stdio.h>
#include <string.h>

#include "period.h"

/* Per op: English and Thai wording when firing. A resolved alert uses the
 * wording of the opposite op (no longer below = at or above). */
static const char *const op_en[]
    = { "below", "at or below", "above", "at or above" };
static const char *const op_th[]
    = { "ต่ำกว่าเกณฑ์", "ไม่เกินเกณฑ์", "สูงกว่าเกณฑ์", "ไม่ต่ำกว่าเกณฑ์" };
static const int op_neg[] = { HSI_OP_GE, HSI_OP_GT, HSI_OP_LE, HSI_OP_LT };

void
hsi_summary_copy(char *dst, size_t size, const char *src)
{
	if (size == 0) {
		return;
	}
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		/* Back off over continuation bytes to a character start. */
		while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80) {
			n--;
		}
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
hsi_summary_what(hsi_transition *t, const char *level, const char *name_en,
    const char *name_th)
{
	char en[256], th[256];
	if (strcmp(level, "index") == 0 && strcmp(t->code, "hsi") == 0) {
		snprintf(en, sizeof(en), "composite index");
		snprintf(th, sizeof(th), "ดัชนีรวม");
	} else if (strcmp(level, "group") == 0) {
		snprintf(en, sizeof(en), "%s dimension",
		    name_en ? name_en : t->code);
		snprintf(th, sizeof(th), "มิติ%s", name_th ? name_th : t->code);
	} else if (name_en != NULL && name_th != NULL) {
		snprintf(en, sizeof(en), "%s", name_en);
		snprintf(th, sizeof(th), "%s", name_th);
	} else {
		snprintf(en, sizeof(en), "%s %s", level, t->code);
		snprintf(th, sizeof(th), "%s %s",
		    strcmp(level, "index") == 0 ? "ดัชนี" : "ตัวชี้วัด", t->code);
	}
	hsi_summary_copy(t->what_en, sizeof(t->what_en), en);
	hsi_summary_copy(t->what_th, sizeof(t->what_th), th);
}

/* "in 2024" and "ปี 2567"; other periods keep their form, with the Thai
 * text in Buddhist-era years ("ช่วง 2567Q1"). */
static void
period_words(
    const char *period, char *en, size_t en_size, char *th, size_t th_size)
{
	hsi_period p;
	char       be[HSI_PERIOD_MAX];
	snprintf(en, en_size, "in %s", period);
	if (hsi_period_parse(period, strlen(period), &p, NULL) != 0) {
		snprintf(th, th_size, "ช่วง %s", period);
		return;
	}
	switch (p.freq) {
	case HSI_FREQ_ANNUAL:
		snprintf(th, th_size, "ปี %d", p.year + 543);
		return;
	case HSI_FREQ_FISCAL:
		snprintf(th, th_size, "ปีงบประมาณ %d", p.year + 543);
		return;
	default:
		p.year += 543;
		hsi_period_format(&p, be, sizeof(be));
		snprintf(th, th_size, "ช่วง %s", be);
		return;
	}
}

/* "fell 0.0242 to 0.4265, 20 ranks" and "ลดลง 0.0242 เหลือ 0.4265
 * อันดับลดลง 20"; "no longer falling" once resolved. */
static void
format_deterioration(const hsi_transition *t, const char *pen, const char *pth,
    char *en, size_t en_size, char *th, size_t th_size)
{
	char buf[1024], ren[64] = "", rth[96] = "";
	if (strcmp(t->state, "resolved") == 0) {
		snprintf(buf, sizeof(buf),
		    "%s (%s): %s %.4f no longer falling %s", t->area_en,
		    t->area, t->what_en, t->value, pen);
		hsi_summary_copy(en, en_size, buf);
		snprintf(buf, sizeof(buf), "%s: %s %.4f ไม่ลดลงตามเกณฑ์แล้ว %s",
		    t->area_th, t->what_th, t->value, pth);
		hsi_summary_copy(th, th_size, buf);
		return;
	}
	if (t->has_rank && t->rank_delta < 0) {
		snprintf(ren, sizeof(ren), ", down %d ranks", -t->rank_delta);
		snprintf(rth, sizeof(rth), " อันดับลดลง %d", -t->rank_delta);
	}
	snprintf(buf, sizeof(buf), "%s (%s): %s fell %.4f to %.4f%s %s",
	    t->area_en, t->area, t->what_en, t->has_delta ? -t->delta : 0.0,
	    t->value, ren, pen);
	hsi_summary_copy(en, en_size, buf);
	snprintf(buf, sizeof(buf), "%s: %s ลดลง %.4f เหลือ %.4f%s %s",
	    t->area_th, t->what_th, t->has_delta ? -t->delta : 0.0, t->value,
	    rth, pth);
	hsi_summary_copy(th, th_size, buf);
}

void
hsi_summary_format(const hsi_transition *t, char *en, size_t en_size, char *th,
    size_t th_size)
{
	char pen[48], pth[96], buf[1024];
	int  resolved = strcmp(t->state, "resolved") == 0;
	if (t->type == HSI_RULE_DETERIORATION) {
		period_words(t->period, pen, sizeof(pen), pth, sizeof(pth));
		format_deterioration(t, pen, pth, en, en_size, th, th_size);
		return;
	}
	int op = (unsigned) t->op < 4 ? (int) t->op : 0;
	period_words(t->period, pen, sizeof(pen), pth, sizeof(pth));
	snprintf(buf, sizeof(buf), "%s (%s): %s %.4f %s%s %g %s", t->area_en,
	    t->area, t->what_en, t->value, resolved ? "no longer " : "",
	    op_en[op], t->threshold, pen);
	hsi_summary_copy(en, en_size, buf);
	snprintf(buf, sizeof(buf), "%s: %s %.4f %s %g%s %s", t->area_th,
	    t->what_th, t->value, op_th[resolved ? op_neg[op] : op],
	    t->threshold, resolved ? " แล้ว" : "", pth);
	hsi_summary_copy(th, th_size, buf);
}
