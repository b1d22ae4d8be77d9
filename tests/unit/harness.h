/*
 * harness.h — how a unit-test file registers its CUnit suite.
 *
 * Each tests/unit/test_*.c ends with one US_SUITE(...) naming its tests;
 * a constructor adds the suite to the runner's table (tests/unit/main.c),
 * so adding a test file needs no edit anywhere else.
 *
 *   static void test_parse_truncated(void) { CU_ASSERT_EQUAL(...); }
 *   US_SUITE(wire_eth, NULL, NULL,
 *            US_TEST(test_parse_truncated));
 */
#ifndef US_TEST_HARNESS_H
#define US_TEST_HARNESS_H

#include <CUnit/CUnit.h>

void us_test_register(const char *name, CU_InitializeFunc init, CU_CleanupFunc fini,
		      CU_TestInfo *tests);

#define US_TEST(fn) { #fn, fn }

#define US_SUITE(name, init, fini, ...)                                        \
	static CU_TestInfo us_tests_##name[] = { __VA_ARGS__, CU_TEST_INFO_NULL }; \
	__attribute__((constructor)) static void us_register_##name(void)      \
	{                                                                      \
		us_test_register(#name, init, fini, us_tests_##name);          \
	}

#endif
