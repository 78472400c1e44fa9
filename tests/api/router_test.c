/*
 * router_test.c: hsi-api's route matching (placeholders, literals before
 * placeholders, 405 with Allow, HEAD as GET, path values checked by
 * their declared types), the start-up check of route tables, who may
 * call what (each access level by each role), and the rate limiter with
 * an injected clock (burst, refill, Retry-After, keys apart, a full
 * table).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "error.h"
#include "query.h"
#include "ratelimit.h"
#include "router.h"

static int
h_list(hsi_call *c)
{
	(void) c;
	return 1;
}

static int
h_one(hsi_call *c)
{
	(void) c;
	return 2;
}

static int
h_latest(hsi_call *c)
{
	(void) c;
	return 3;
}

static int
h_post(hsi_call *c)
{
	(void) c;
	return 4;
}

static const hsi_qparam area_path[] = {
	{ .name = "area", .type = HSI_QT_AREA },
	{ .name = NULL },
};
static const hsi_qparam index_path[] = {
	{ .name = "period", .type = HSI_QT_PERIOD },
	{ .name = "area", .type = HSI_QT_AREA },
	{ .name = NULL },
};

static const hsi_route catalog[] = {
	{ .method = "GET", .pattern = "/v1/areas", .handler = h_list },
	{ .method    = "GET",
	    .pattern = "/v1/areas/{area}",
	    .handler = h_one,
	    .path    = area_path },
	{ .method    = "DELETE",
	    .pattern = "/v1/areas/{area}",
	    .handler = h_one,
	    .path    = area_path },
	HSI_ROUTE_END,
};
static const hsi_route index_routes[] = {
	{ .method    = "GET",
	    .pattern = "/v1/index/{period}/areas/{area}",
	    .handler = h_one,
	    .path    = index_path },
	{ .method    = "GET",
	    .pattern = "/v1/index/{period}/areas/latest",
	    .handler = h_latest,
	    .path    = index_path },
	{ .method    = "POST",
	    .pattern = "/v1/index/{period}/areas/{area}",
	    .handler = h_post,
	    .path    = index_path },
	HSI_ROUTE_END,
};
static const hsi_route *const tables[] = { catalog, index_routes, NULL };

static void
test_match(void **state)
{
	hsi_match m;
	(void) state;
	hsi_router_match(tables, "GET", "/v1/areas", &m);
	assert_int_equal(m.kind, HSI_MATCH_OK);
	assert_ptr_equal(m.route->handler, h_list);
	assert_int_equal(m.n_params, 0);

	hsi_router_match(tables, "HEAD", "/v1/areas/50", &m);
	assert_int_equal(m.kind, HSI_MATCH_OK);
	assert_ptr_equal(m.route->handler, h_one);
	assert_int_equal(m.n_params, 1);
	assert_int_equal(m.param[0].name_len, 4);
	assert_memory_equal(m.param[0].name, "area", 4);
	assert_int_equal(m.param[0].value_len, 2);
	assert_memory_equal(m.param[0].value, "50", 2);

	hsi_router_match(tables, "GET", "/v1/index/2567/areas/10", &m);
	assert_int_equal(m.kind, HSI_MATCH_OK);
	assert_int_equal(m.n_params, 2);
	assert_memory_equal(m.param[0].value, "2567", 4);
	assert_memory_equal(m.param[1].value, "10", 2);

	/* A literal beats a placeholder, whatever the table order. */
	hsi_router_match(tables, "GET", "/v1/index/2024/areas/latest", &m);
	assert_ptr_equal(m.route->handler, h_latest);
	assert_int_equal(m.n_params, 1);
	hsi_router_match(tables, "POST", "/v1/index/2024/areas/latest", &m);
	assert_ptr_equal(m.route->handler, h_post);

	/* The path exists with other methods: 405 and Allow in order. */
	hsi_router_match(tables, "PUT", "/v1/areas/50", &m);
	assert_int_equal(m.kind, HSI_MATCH_METHOD);
	assert_string_equal(m.allow, "GET, HEAD, DELETE");
	hsi_router_match(tables, "DELETE", "/v1/index/2024/areas/10", &m);
	assert_string_equal(m.allow, "GET, HEAD, POST");
	hsi_router_match(tables, "POST", "/v1/areas", &m);
	assert_string_equal(m.allow, "GET, HEAD");
	hsi_router_match(tables, "get", "/v1/areas", &m);
	assert_int_equal(m.kind, HSI_MATCH_METHOD);

	const char *none[] = { "/v1/area", "/v1/areas/", "/v1/areas//",
		"/v1/areas/50/x", "/v1//areas", "v1/areas", "/", "",
		"/v1/index/2024/areas", NULL };
	for (int i = 0; none[i]; i++) {
		hsi_router_match(tables, "GET", none[i], &m);
		if (m.kind != HSI_MATCH_NONE) {
			fail_msg("'%s' matched", none[i]);
		}
	}
	/* A placeholder takes one segment of bounded length. */
	char long_path[300] = "/v1/areas/";
	memset(long_path + 10, '1', 200);
	hsi_router_match(tables, "GET", long_path, &m);
	assert_int_equal(m.kind, HSI_MATCH_NONE);
}

static void
test_path_values(void **state)
{
	hsi_match     m;
	hsi_query     q;
	hsi_query_err err;
	(void) state;
	hsi_router_match(tables, "GET", "/v1/index/FY2567/areas/TH-50", &m);
	assert_int_equal(m.kind, HSI_MATCH_OK);
	hsi_query_init(&q, m.route->query);
	for (int i = 0; i < m.n_params; i++) {
		const hsi_qparam *d = hsi_router_param_decl(
		    m.route, m.param[i].name, m.param[i].name_len);
		assert_non_null(d);
		assert_int_equal(hsi_query_set(&q, d, m.param[i].value,
		                     m.param[i].value_len, &err),
		    0);
	}
	assert_string_equal(hsi_query_text(&q, "period"), "FY2024");
	assert_string_equal(hsi_query_text(&q, "area"), "50");
	assert_int_equal(hsi_query_finish(&q, &err), 0);

	hsi_router_match(tables, "GET", "/v1/areas/x1", &m);
	hsi_query_init(&q, NULL);
	assert_int_equal(
	    hsi_query_set(&q, m.route->path, "x1", 2, &err), HSI_EINVAL);
	assert_string_equal(err.slug, "invalid-parameter");
	assert_string_equal(err.param, "area");
}

static void
expect_refused(const hsi_route *t, const char *frag)
{
	const hsi_route *const list[]   = { t, NULL };
	char                   err[300] = "";
	assert_int_equal(hsi_router_check(list, err, sizeof(err)), HSI_EINVAL);
	if (strstr(err, frag) == NULL) {
		fail_msg("expected '%s' in: %s", frag, err);
	}
}

static void
test_check(void **state)
{
	char err[300];
	(void) state;
	assert_int_equal(hsi_router_check(tables, err, sizeof(err)), 0);
	const hsi_route undeclared[] = { { .method    = "GET",
		                             .pattern = "/v1/x/{code}",
		                             .handler = h_one },
		HSI_ROUTE_END };
	expect_refused(undeclared, "must be declared");
	const hsi_route twice[] = { { .method    = "GET",
		                        .pattern = "/v1/areas/{area}",
		                        .handler = h_one,
		                        .path    = area_path },
		{ .method    = "GET",
		    .pattern = "/v1/areas/{area}",
		    .handler = h_list,
		    .path    = area_path },
		HSI_ROUTE_END };
	expect_refused(twice, "declared twice");
	const hsi_route empty_seg[]
	    = { { .method = "GET", .pattern = "/v1//x", .handler = h_one },
		      HSI_ROUTE_END };
	expect_refused(empty_seg, "empty segment");
	const hsi_route bad_name[] = { { .method    = "GET",
		                           .pattern = "/v1/{Area}",
		                           .handler = h_one,
		                           .path    = area_path },
		HSI_ROUTE_END };
	expect_refused(bad_name, "bad placeholder");
	const hsi_route no_handler[]
	    = { { .method = "GET", .pattern = "/v1/x" }, HSI_ROUTE_END };
	expect_refused(no_handler, "no handler");
	const hsi_route relative[]
	    = { { .method = "GET", .pattern = "v1/x", .handler = h_one },
		      HSI_ROUTE_END };
	expect_refused(relative, "start with '/'");
	static const hsi_qparam clash[]
	    = { { .name = "area", .type = HSI_QT_AREA }, { .name = NULL } };
	const hsi_route both[] = { { .method    = "GET",
		                       .pattern = "/v1/a/{area}",
		                       .handler = h_one,
		                       .path    = area_path,
		                       .query   = clash },
		HSI_ROUTE_END };
	expect_refused(both, "not in .query");
}

static void
test_access(void **state)
{
	static const unsigned want[5][4] = {
		/* anon, viewer, agency, admin */
		{ 0, 0, 0, 0 },       /* open */
		{ 401, 0, 0, 0 },     /* public read, public_reads off */
		{ 401, 0, 0, 0 },     /* token */
		{ 401, 403, 0, 0 },   /* agency */
		{ 401, 403, 403, 0 }, /* admin */
	};
	(void) state;
	for (int a = 0; a < 5; a++) {
		for (int r = 0; r < 4; r++) {
			hsi_principal p = { (hsi_role) r, "", r ? 7 : 0 };
			if (hsi_auth_allows(&p, (hsi_access) a, 0)
			    != want[a][r]) {
				fail_msg("access %d role %d: %u", a, r,
				    hsi_auth_allows(&p, (hsi_access) a, 0));
			}
		}
	}
	hsi_principal anon = { HSI_ROLE_ANON, "", 0 };
	assert_int_equal(hsi_auth_allows(&anon, HSI_ACCESS_PUBLIC_READ, 1), 0);
	assert_int_equal(hsi_auth_allows(&anon, HSI_ACCESS_TOKEN, 1), 401);
	assert_string_equal(hsi_auth_role_name(HSI_ROLE_AGENCY), "agency");
}

static void
test_ratelimit(void **state)
{
	hsi_ratelimit *rl;
	int            retry = 0;
	(void) state;
	assert_int_equal(hsi_ratelimit_alloc(0, 1, 16, &rl), HSI_EINVAL);
	assert_int_equal(hsi_ratelimit_alloc(2, 0.5, 16, &rl), HSI_EINVAL);
	/* 2 a second, bursts of 3. */
	assert_int_equal(hsi_ratelimit_alloc(2, 3, 16, &rl), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    hsi_ratelimit_take(rl, "t:1", 1000, &retry), 0);
	}
	assert_int_equal(
	    hsi_ratelimit_take(rl, "t:1", 1000, &retry), HSI_ERANGE);
	assert_int_equal(retry, 1);
	/* Another key has its own bucket. */
	assert_int_equal(
	    hsi_ratelimit_take(rl, "ip:10.0.0.1", 1000, &retry), 0);
	/* Half a second gives one request back. */
	assert_int_equal(
	    hsi_ratelimit_take(rl, "t:1", 1499, &retry), HSI_ERANGE);
	assert_int_equal(hsi_ratelimit_take(rl, "t:1", 1500, &retry), 0);
	assert_int_equal(
	    hsi_ratelimit_take(rl, "t:1", 1500, &retry), HSI_ERANGE);
	/* A long pause refills to the burst, not beyond. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    hsi_ratelimit_take(rl, "t:1", 100000, &retry), 0);
	}
	assert_int_equal(
	    hsi_ratelimit_take(rl, "t:1", 100000, &retry), HSI_ERANGE);
	/* More keys than slots: the table stays bounded and every new key
	 * starts with a full bucket. */
	for (int i = 0; i < 1000; i++) {
		char key[32];
		snprintf(key, sizeof(key), "ip:%d", i);
		assert_int_equal(
		    hsi_ratelimit_take(rl, key, 100000 + i, &retry), 0);
	}
	hsi_ratelimit_free(rl);
	hsi_ratelimit_free(NULL);

	/* A slow rate says how long to wait. */
	assert_int_equal(hsi_ratelimit_alloc(0.1, 1, 16, &rl), 0);
	assert_int_equal(hsi_ratelimit_take(rl, "k", 0, &retry), 0);
	assert_int_equal(hsi_ratelimit_take(rl, "k", 0, &retry), HSI_ERANGE);
	assert_int_equal(retry, 10);
	assert_int_equal(
	    hsi_ratelimit_take(rl, "k", 7000, &retry), HSI_ERANGE);
	assert_int_equal(retry, 3);
	hsi_ratelimit_free(rl);
	assert_int_equal(hsi_ratelimit_take(NULL, "k", 0, &retry), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_path_values),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_ratelimit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
