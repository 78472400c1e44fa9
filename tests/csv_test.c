/*
 * csv_test.c: the CSV reader on what agencies send (BOM, CRLF, quoted
 * commas, quotes and newlines, Thai text) and on what they get wrong: every
 * error code with the line and column a person would look at, and reading
 * on after an error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "error.h"

typedef struct {
	hsi_csv    *c;
	hsi_csv_row row;
	hsi_csv_err err;
} reader;

static void
open_limits(reader *r, const char *s, size_t len, const hsi_csv_limits *lim)
{
	memset(r, 0, sizeof *r);
	assert_int_equal(hsi_csv_open(s, len, lim, &r->c), 0);
}

static void
open_str(reader *r, const char *s)
{
	open_limits(r, s, strlen(s), NULL);
}

static void
next_ok(reader *r, size_t nfields, size_t line)
{
	int rv = hsi_csv_next(r->c, &r->row, &r->err);
	if (rv != 1) {
		fail_msg("want a record at line %zu, got %d: %s %zu:%zu %s",
		    line, rv, r->err.code, r->err.line, r->err.col,
		    r->err.msg);
	}
	assert_int_equal(r->row.nfields, nfields);
	assert_int_equal(r->row.line, line);
}

static void
field_is(reader *r, size_t i, const char *text, size_t line, size_t col)
{
	const hsi_csv_field *f = &r->row.fields[i];
	assert_int_equal(f->len, strlen(text));
	assert_memory_equal(f->ptr, text, f->len + 1); /* with the NUL */
	assert_int_equal(f->line, line);
	assert_int_equal(f->col, col);
}

static void
next_err(reader *r, int rv, const char *code, size_t line, size_t col)
{
	hsi_csv_row before = { .nfields = 99 };
	r->row             = before;
	memset(&r->err, 0, sizeof r->err);
	int got = hsi_csv_next(r->c, &r->row, &r->err);
	if (got != rv) {
		fail_msg("want %d (%s), got %d", rv, code, got);
	}
	assert_string_equal(r->err.code, code);
	assert_int_equal(r->err.line, line);
	assert_int_equal(r->err.col, col);
	assert_true(strlen(r->err.msg) > 10);
	assert_int_equal(r->row.nfields, 99); /* untouched on error */
}

static void
next_end(reader *r)
{
	assert_int_equal(hsi_csv_next(r->c, &r->row, &r->err), 0);
	assert_int_equal(hsi_csv_next(r->c, &r->row, &r->err), 0);
	hsi_csv_close(r->c);
}

static void
test_bom_crlf(void **state)
{
	reader r;
	(void) state;
	open_str(&r,
	    "\xEF\xBB\xBF"
	    "code,value\r\nDOH,12\r\n");
	next_ok(&r, 2, 1);
	field_is(&r, 0, "code", 1, 1); /* the BOM is not a character */
	field_is(&r, 1, "value", 1, 6);
	next_ok(&r, 2, 2);
	field_is(&r, 0, "DOH", 2, 1);
	field_is(&r, 1, "12", 2, 5);
	next_end(&r);
}

static void
test_quoted(void **state)
{
	reader r;
	(void) state;
	open_str(&r,
	    "\"a,b\",\"say \"\"hi\"\"\",\"one\r\ntwo\nthree\",x\n"
	    "next,\"\"\n");
	next_ok(&r, 4, 1);
	field_is(&r, 0, "a,b", 1, 1);
	field_is(&r, 1, "say \"hi\"", 1, 7);
	field_is(&r, 2, "one\r\ntwo\nthree", 1, 20);
	/* After a field over three lines, columns count from line 3. */
	field_is(&r, 3, "x", 3, 8);
	next_ok(&r, 2, 4);
	field_is(&r, 0, "next", 4, 1);
	field_is(&r, 1, "", 4, 6);
	next_end(&r);
}

static void
test_thai_note(void **state)
{
	reader r;
	(void) state;
	/* "หมายเหตุ: ข้อมูล, ปี ๒๕๖๗" in a quoted field, then a column after. */
	open_str(&r, "DOH,\"หมายเหตุ: ข้อมูล, ปี ๒๕๖๗\",ก,z\n");
	next_ok(&r, 4, 1);
	static const char note[]
	    = "\xE0\xB8\xAB\xE0\xB8\xA1\xE0\xB8\xB2\xE0\xB8\xA2\xE0\xB9\x80"
	      "\xE0\xB8\xAB\xE0\xB8\x95\xE0\xB8\xB8: "
	      "\xE0\xB8\x82\xE0\xB9\x89\xE0\xB8\xAD\xE0\xB8\xA1\xE0\xB8\xB9"
	      "\xE0\xB8\xA5, \xE0\xB8\x9B\xE0\xB8\xB5 "
	      "\xE0\xB9\x92\xE0\xB9\x95\xE0\xB9\x96\xE0\xB9\x97";
	field_is(&r, 1, note, 1, 5);
	/* 25 characters and 2 quotes after column 5: "ก" is at 33. */
	field_is(&r, 2, "ก", 1, 33);
	field_is(&r, 3, "z", 1, 35);
	next_end(&r);
}

static void
test_no_final_newline(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "a,b\nc,");
	next_ok(&r, 2, 1);
	next_ok(&r, 2, 2);
	field_is(&r, 0, "c", 2, 1);
	field_is(&r, 1, "", 2, 3);
	next_end(&r);
	open_str(&r, "\"q\"");
	next_ok(&r, 1, 1);
	field_is(&r, 0, "q", 1, 1);
	next_end(&r);
}

static void
test_empty_lines(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "\n\na\n\r\n\nb,c\n\n");
	next_ok(&r, 1, 3);
	field_is(&r, 0, "a", 3, 1);
	next_ok(&r, 2, 6);
	field_is(&r, 1, "c", 6, 3);
	next_end(&r);
	open_str(&r, "");
	next_end(&r);
	open_str(&r, "\xEF\xBB\xBF");
	next_end(&r);
	open_str(&r, ",,\n");
	next_ok(&r, 3, 1);
	field_is(&r, 2, "", 1, 3);
	next_end(&r);
}

static void
test_quote_in_unquoted(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "ok,1\nab\"c,d\nnext,2\n");
	next_ok(&r, 2, 1);
	next_err(&r, -HSI_EINVAL, "E_CSV_QUOTE", 2, 3);
	next_ok(&r, 2, 3); /* read on at the next line */
	field_is(&r, 0, "next", 3, 1);
	next_end(&r);
}

static void
test_junk_after_quote(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "x,\"ab\"c,d\r\nnext\r\n");
	next_err(&r, -HSI_EINVAL, "E_CSV_QUOTE", 1, 7);
	next_ok(&r, 1, 2);
	field_is(&r, 0, "next", 2, 1);
	next_end(&r);
}

static void
test_quote_error_in_multiline_field(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "\"a\nbb\"x,c\nnext\n");
	next_err(&r, -HSI_EINVAL, "E_CSV_QUOTE", 2, 4);
	next_ok(&r, 1, 3);
	field_is(&r, 0, "next", 3, 1);
	next_end(&r);
}

static void
test_unterminated(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "a,b\nc,\"open\nmore,lines\n");
	next_ok(&r, 2, 1);
	next_err(&r, -HSI_EINVAL, "E_CSV_UNTERMINATED", 2, 3);
	next_end(&r);
}

static void
test_encoding(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "ok\nก\xC0\xAF,x\nnext\n\"two\nlines \xff\"\nlast\n");
	next_ok(&r, 1, 1);
	next_err(&r, -HSI_EENCODING, "E_ENCODING", 2, 2);
	assert_non_null(strstr(r.err.msg, "UTF-8"));
	next_ok(&r, 1, 3);
	next_err(&r, -HSI_EENCODING, "E_ENCODING", 5, 7);
	next_ok(&r, 1, 6);
	field_is(&r, 0, "last", 6, 1);
	next_end(&r);
	/* NUL bytes, as in a UTF-16 export, quoted or not. */
	open_limits(&r, "a\0b\n\"x\ny\0\"\nok\n", 14, NULL);
	next_err(&r, -HSI_EENCODING, "E_ENCODING", 1, 2);
	next_err(&r, -HSI_EENCODING, "E_ENCODING", 3, 2);
	next_ok(&r, 1, 4);
	next_end(&r);
	/* A Windows-874 (TIS-620) file: Thai letters as single bytes. */
	open_str(&r, "name\n\xA1\xD2\xC3\n");
	next_ok(&r, 1, 1);
	next_err(&r, -HSI_EENCODING, "E_ENCODING", 2, 1);
	next_end(&r);
}

static void
test_bare_cr(void **state)
{
	reader r;
	(void) state;
	open_str(&r, "a\rb\nc\n");
	next_err(&r, -HSI_EINVAL, "E_CSV_CR", 1, 2);
	next_ok(&r, 1, 2);
	next_end(&r);
}

static void
test_field_limit(void **state)
{
	reader         r;
	hsi_csv_limits lim = { .max_field_bytes = 4 };
	(void) state;
	const char *s = "abcd,\"ab\"\"c\"\nabcde,x\nok\n";
	open_limits(&r, s, strlen(s), &lim);
	next_ok(&r, 2, 1); /* "ab""c" unescapes to 4 bytes */
	field_is(&r, 1, "ab\"c", 1, 6);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_LONG", 2, 1);
	next_ok(&r, 1, 3);
	next_end(&r);
}

static void
test_record_limit(void **state)
{
	reader         r;
	hsi_csv_limits lim = { .max_record_bytes = 8 };
	(void) state;
	/* 8 bytes is allowed whatever the line end; 9 is not. */
	const char *s = "aaaa,bbb\nabc,defg\r\naaaa,bbbb\nok\n\"12345678"
	                "\nmissing\nat,all\n";
	open_limits(&r, s, strlen(s), &lim);
	next_ok(&r, 2, 1);
	next_ok(&r, 2, 2);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_LONG", 3, 1);
	next_ok(&r, 1, 4);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_LONG", 5, 1);
	assert_non_null(strstr(r.err.msg, "quote"));
	next_ok(&r, 1, 6); /* "missing" */
	next_ok(&r, 2, 7);
	next_end(&r);
	/* At the end of input without a newline, and a Thai letter that
	 * would straddle the limit. */
	open_limits(&r, "1234,678", 8, &lim);
	next_ok(&r, 2, 1);
	next_end(&r);
	open_limits(&r, "123456ก", strlen("123456ก"), &lim);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_LONG", 1, 1);
	next_end(&r);
	/* A quote left open: reported where the record starts, then
	 * reading goes on after the line where the limit was crossed. */
	open_limits(&r, "ok\n\"ab\ncd\nefgh\nzz\n", 18, &lim);
	next_ok(&r, 1, 1);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_LONG", 2, 1);
	next_ok(&r, 1, 5);
	field_is(&r, 0, "zz", 5, 1);
	next_end(&r);
}

static void
test_too_many_fields(void **state)
{
	reader         r;
	hsi_csv_limits lim = { .max_fields = 3 };
	(void) state;
	const char *s = "a,b,c\na,b,c,d\n\"x\",y\n";
	open_limits(&r, s, strlen(s), &lim);
	next_ok(&r, 3, 1);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_MANY_FIELDS", 2, 7);
	next_ok(&r, 2, 3);
	next_end(&r);
}

static void
test_default_limits(void **state)
{
	reader r;
	(void) state;
	/* 64 fields of 1000 bytes: the text buffer grows while fields are
	 * read, and earlier fields must still be right afterwards. */
	size_t len = 64 * 1001;
	char  *s   = malloc(len);
	assert_non_null(s);
	for (size_t i = 0; i < 64; i++) {
		memset(s + i * 1001, 'a' + (int) (i % 26), 1000);
		s[i * 1001 + 1000] = i == 63 ? '\n' : ',';
	}
	open_limits(&r, s, len, NULL);
	next_ok(&r, 64, 1);
	for (size_t i = 0; i < 64; i++) {
		const hsi_csv_field *f = &r.row.fields[i];
		assert_int_equal(f->len, 1000);
		assert_int_equal(f->ptr[0], 'a' + (int) (i % 26));
		assert_int_equal(f->ptr[999], 'a' + (int) (i % 26));
		assert_int_equal(f->ptr[1000], '\0');
		assert_int_equal(f->col, i * 1001 + 1);
	}
	next_end(&r);
	/* One more field is too many; a 4097-byte field is too long. */
	s[len - 1] = ',';
	open_limits(&r, s, len, NULL);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_MANY_FIELDS", 1, len + 1);
	next_end(&r);
	memset(s, 'x', 4097);
	s[4097] = '\n';
	open_limits(&r, s, 4098, NULL);
	next_err(&r, -HSI_ETOOBIG, "E_TOO_LONG", 1, 1);
	next_end(&r);
	free(s);
}

static void
test_many_records(void **state)
{
	reader r;
	(void) state;
	/* Line numbers stay right over many records. */
	size_t n = 20000, len = 0;
	char  *s = malloc(n * 16);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		memcpy(s + len, i % 2 ? "\"x\ny\",1\n" : "ab,cd\r\n", 8);
		len += i % 2 ? 8 : 7;
	}
	open_limits(&r, s, len, NULL);
	for (size_t i = 0, line = 1; i < n; i++) {
		next_ok(&r, 2, line);
		line += i % 2 ? 2 : 1;
	}
	next_end(&r);
	free(s);
}

static void
test_utf8_check(void **state)
{
	(void) state;
	assert_int_equal(hsi_utf8_check("", 0), 0);
	assert_int_equal(hsi_utf8_check("plain ascii text", 16), 0);
	assert_int_equal(
	    hsi_utf8_check("ภาษาไทย ๒๕๖๗", strlen("ภาษาไทย ๒๕๖๗")), 0);
	assert_int_equal(hsi_utf8_check("\xC2\x80\xDF\xBF", 4), 0);
	assert_int_equal(hsi_utf8_check("\xED\x9F\xBF\xEE\x80\x80", 6), 0);
	assert_int_equal(hsi_utf8_check("\xF0\x9F\x98\x80", 4), 0);
	assert_int_equal(hsi_utf8_check("\xF4\x8F\xBF\xBF", 4), 0);
	/* Overlongs. */
	assert_int_equal(hsi_utf8_check("\xC0\xAF", 2), 1);
	assert_int_equal(hsi_utf8_check("ab\xC1\xBF", 4), 3);
	assert_int_equal(hsi_utf8_check("\xE0\x80\xAF", 3), 1);
	assert_int_equal(hsi_utf8_check("\xF0\x80\x80\xAF", 4), 1);
	/* Surrogates and code points past U+10FFFF. */
	assert_int_equal(hsi_utf8_check("\xED\xA0\x80", 3), 1);
	assert_int_equal(hsi_utf8_check("x\xED\xBF\xBF", 4), 2);
	assert_int_equal(hsi_utf8_check("\xF4\x90\x80\x80", 4), 1);
	assert_int_equal(hsi_utf8_check("\xF5\x80\x80\x80", 4), 1);
	assert_int_equal(hsi_utf8_check("\xFF", 1), 1);
	/* Truncated sequences, after the 8-byte ASCII fast path too. */
	assert_int_equal(hsi_utf8_check("\xE0\xB9", 2), 1);
	assert_int_equal(hsi_utf8_check("abcdefgh\xE0\xB9", 10), 9);
	assert_int_equal(hsi_utf8_check("\xE0\xB9x", 3), 1);
	assert_int_equal(hsi_utf8_check("\xF0\x9F\x98", 3), 1);
	/* A lone continuation byte, after a Thai letter. */
	assert_int_equal(hsi_utf8_check("ก\x80", 4), 4);
}

static void
test_open_args(void **state)
{
	hsi_csv *c = NULL;
	(void) state;
	assert_int_equal(hsi_csv_open(NULL, 1, NULL, &c), HSI_EINVAL);
	assert_null(c);
	assert_int_equal(hsi_csv_open(NULL, 0, NULL, &c), 0);
	hsi_csv_close(c);
	hsi_csv_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bom_crlf),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_thai_note),
		cmocka_unit_test(test_no_final_newline),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_quote_in_unquoted),
		cmocka_unit_test(test_junk_after_quote),
		cmocka_unit_test(test_quote_error_in_multiline_field),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_field_limit),
		cmocka_unit_test(test_record_limit),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_default_limits),
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_utf8_check),
		cmocka_unit_test(test_open_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
