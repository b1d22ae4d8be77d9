/*
 * main.c — the CUnit runner for every suite registered with US_SUITE.
 *
 * Usage: unit_tests [SUITE ...]   (no argument: every suite)
 * Exit status is non-zero if any assertion failed or any suite's setup
 * failed (CUnit itself never sets one: we read the failure records before
 * CU_cleanup_registry() clears them). With US_TEST_COUNTS=FILE set, writes
 * "passed failed" test counts there for tests/run_all.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "harness.h"

#define MAX_SUITES 128

static struct {
	const char *name;
	CU_InitializeFunc init;
	CU_CleanupFunc fini;
	CU_TestInfo *tests;
} suites[MAX_SUITES];
static int nsuites;

void us_test_register(const char *name, CU_InitializeFunc init, CU_CleanupFunc fini,
		      CU_TestInfo *tests)
{
	if (nsuites == MAX_SUITES) {
		fprintf(stderr, "harness: more than %d suites; raise MAX_SUITES\n", MAX_SUITES);
		exit(2);
	}
	suites[nsuites].name = name;
	suites[nsuites].init = init;
	suites[nsuites].fini = fini;
	suites[nsuites].tests = tests;
	nsuites++;
}

static int wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (int i = 0; i < nsuites; i++) {
		if (!wanted(suites[i].name, argc, argv))
			continue;
		CU_pSuite s = CU_add_suite(suites[i].name, suites[i].init, suites[i].fini);
		if (!s)
			return 2;
		for (CU_TestInfo *t = suites[i].tests; t->pName; t++)
			if (!CU_add_test(s, t->pName, t->pTestFunc))
				return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failure_records();
	unsigned run = CU_get_number_of_tests_run();
	unsigned failed = CU_get_number_of_tests_failed();
	unsigned suites_failed = CU_get_number_of_suites_failed();
	const char *counts = getenv("US_TEST_COUNTS");
	if (counts) {
		FILE *f = fopen(counts, "w");
		if (f) {
			fprintf(f, "%u %u\n", run - failed, failed + suites_failed);
			fclose(f);
		}
	}
	printf("\nunit: %u tests run, %u failed, %u suites failed to set up\n", run, failed,
	       suites_failed);
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
