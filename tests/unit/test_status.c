/* test_status.c - the one table of user statuses (state/status.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "state/status.h"

static void test_names_round_trip(void **state)
{
	int s;

	(void)state;
	for (s = 0; s < USER_STATUS_N; s++)
		assert_int_equal(user_status_parse(user_status_name(s)), s);
	for (s = 0; s < BATCH_STATUS_N; s++)
		assert_int_equal(batch_status_parse(batch_status_name(s)), s);
	/* what older versions wrote */
	assert_int_equal(user_status_parse("IncrementalSynced"), USER_SYNCED);
	assert_int_equal(user_status_parse("Stopping"), USER_STOPPED);
	assert_int_equal(user_status_parse("nonsense"), -1);
	assert_int_equal(user_status_parse(NULL), -1);
}

static void test_procedure(void **state)
{
	(void)state;
	/* initial sync, then incremental ones; each ends Synced */
	assert_int_equal(user_status_next(USER_QUEUED, USER_RUN), USER_SYNCING);
	assert_int_equal(user_status_next(USER_SYNCING, USER_RUN_OK),
			 USER_SYNCED);
	assert_int_equal(user_status_next(USER_SYNCED, USER_RUN),
			 USER_INCR_SYNCING);
	assert_int_equal(user_status_next(USER_INCR_SYNCING, USER_RUN_OK),
			 USER_SYNCED);
	assert_int_equal(user_status_next(USER_INCR_SYNCING, USER_RUN_FAILED),
			 USER_INCR_FAILED);
	assert_int_equal(user_status_next(USER_SYNCING, USER_RUN_FAILED),
			 USER_FAILED);
	/* complete: one more sync, then Completed for good */
	assert_int_equal(user_status_next(USER_SYNCED, USER_AGAIN),
			 USER_QUEUED);
	assert_int_equal(user_status_next(USER_SYNCED, USER_FINAL),
			 USER_COMPLETED);
	for (int e = 0; e < USER_EVENT_N; e++)
		assert_int_equal(user_status_next(USER_COMPLETED, e), -1);
}

static void test_stop_and_start(void **state)
{
	(void)state;
	assert_int_equal(user_status_next(USER_SYNCING, USER_STOP),
			 USER_STOPPED);
	assert_int_equal(user_status_next(USER_STOPPED, USER_START),
			 USER_QUEUED);
	assert_int_equal(user_status_next(USER_FAILED, USER_START),
			 USER_QUEUED);
	/* a stopped user is not run, and a run's end does not undo a stop */
	assert_int_equal(user_status_next(USER_STOPPED, USER_RUN), -1);
	assert_int_equal(user_status_next(USER_STOPPED, USER_RUN_OK), -1);
	assert_int_equal(user_status_next(USER_STOPPED, USER_RUN_FAILED), -1);
	/* queued again while running (sync-now): the run's end leaves it */
	assert_int_equal(user_status_next(USER_QUEUED, USER_RUN_OK), -1);
	/* only synced users sync again on --sync-now */
	assert_int_equal(user_status_next(USER_FAILED, USER_AGAIN), -1);
	assert_int_equal(user_status_next(-1, USER_START), -1);
}

/* The process ends (SIGTERM, Ctrl-C): nobody stopped the user, so the next
 * run picks it up where it was. */
static void test_interrupted(void **state)
{
	(void)state;
	assert_int_equal(user_status_next(USER_SYNCING, USER_RUN_INTERRUPTED),
			 USER_QUEUED);
	assert_int_equal(
		user_status_next(USER_INCR_SYNCING, USER_RUN_INTERRUPTED),
		USER_SYNCED);
	/* a user stopped meanwhile stays stopped; nothing else moves */
	assert_int_equal(user_status_next(USER_STOPPED, USER_RUN_INTERRUPTED),
			 -1);
	assert_int_equal(user_status_next(USER_QUEUED, USER_RUN_INTERRUPTED),
			 -1);
	assert_int_equal(user_status_next(USER_SYNCED, USER_RUN_INTERRUPTED),
			 -1);
	assert_int_equal(user_status_next(USER_COMPLETED, USER_RUN_INTERRUPTED),
			 -1);
}

/* Every cell of the table: the legal transitions, each written out from
 * the procedure, and every other (status, event) pair illegal (-1). */
static void test_every_transition(void **state)
{
	static const struct {
		int from, event, to;
	} legal[] = {
		/* start: a queued or running user stays; a resting one is
		 * queued */
		{USER_QUEUED, USER_START, USER_QUEUED},
		{USER_SYNCING, USER_START, USER_SYNCING},
		{USER_INCR_SYNCING, USER_START, USER_INCR_SYNCING},
		{USER_SYNCED, USER_START, USER_SYNCED},
		{USER_FAILED, USER_START, USER_QUEUED},
		{USER_INCR_FAILED, USER_START, USER_QUEUED},
		{USER_STOPPED, USER_START, USER_QUEUED},
		/* stop: whatever runs or waits stops; a failed user keeps
		 * its failure */
		{USER_QUEUED, USER_STOP, USER_STOPPED},
		{USER_SYNCING, USER_STOP, USER_STOPPED},
		{USER_INCR_SYNCING, USER_STOP, USER_STOPPED},
		{USER_SYNCED, USER_STOP, USER_STOPPED},
		{USER_FAILED, USER_STOP, USER_FAILED},
		{USER_INCR_FAILED, USER_STOP, USER_INCR_FAILED},
		{USER_STOPPED, USER_STOP, USER_STOPPED},
		/* sync now / complete: only a synced user syncs again */
		{USER_SYNCED, USER_AGAIN, USER_QUEUED},
		/* a pass begins */
		{USER_QUEUED, USER_RUN, USER_SYNCING},
		{USER_SYNCED, USER_RUN, USER_INCR_SYNCING},
		/* it ends well, or fails */
		{USER_SYNCING, USER_RUN_OK, USER_SYNCED},
		{USER_INCR_SYNCING, USER_RUN_OK, USER_SYNCED},
		{USER_SYNCING, USER_RUN_FAILED, USER_FAILED},
		{USER_INCR_SYNCING, USER_RUN_FAILED, USER_INCR_FAILED},
		/* it was stopped */
		{USER_QUEUED, USER_RUN_STOPPED, USER_STOPPED},
		{USER_SYNCING, USER_RUN_STOPPED, USER_STOPPED},
		{USER_INCR_SYNCING, USER_RUN_STOPPED, USER_STOPPED},
		{USER_SYNCED, USER_RUN_STOPPED, USER_STOPPED},
		{USER_STOPPED, USER_RUN_STOPPED, USER_STOPPED},
		/* the batch's last sync is done */
		{USER_SYNCED, USER_FINAL, USER_COMPLETED},
		/* the process was told to end: back to where the next run
		 * picks it up */
		{USER_SYNCING, USER_RUN_INTERRUPTED, USER_QUEUED},
		{USER_INCR_SYNCING, USER_RUN_INTERRUPTED, USER_SYNCED},
	};
	size_t n = sizeof(legal) / sizeof(legal[0]), k, cells = 0;

	(void)state;
	for (int s = 0; s < USER_STATUS_N; s++) {
		for (int e = 0; e < USER_EVENT_N; e++) {
			int want = -1;
			for (k = 0; k < n; k++)
				if (legal[k].from == s && legal[k].event == e)
					want = legal[k].to;
			if (user_status_next(s, e) != want)
				fail_msg("%s + event %d: got %d, want %d",
					 user_status_name(s), e,
					 user_status_next(s, e), want);
			cells++;
		}
	}
	assert_int_equal(cells, USER_STATUS_N * USER_EVENT_N);
	/* out of range: nothing applies */
	assert_int_equal(user_status_next(USER_STATUS_N, USER_START), -1);
	assert_int_equal(user_status_next(USER_QUEUED, USER_EVENT_N), -1);
}

static void test_classes(void **state)
{
	(void)state;
	assert_int_equal(user_status_class(USER_INCR_FAILED), CLASS_FAILED);
	assert_int_equal(user_status_class(USER_INCR_SYNCING), CLASS_SYNCING);
	assert_int_equal(user_status_class(-1), CLASS_SYNCING);
	assert_true(batch_status_completed(BATCH_COMPLETED_WITH_ERRORS));
	assert_false(batch_status_runnable(BATCH_CREATED));
	assert_false(batch_status_runnable(BATCH_COMPLETED));
	assert_true(batch_status_runnable(BATCH_COMPLETING));
	assert_true(batch_status_runnable(BATCH_SYNCED));
	assert_false(batch_status_runnable(-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_procedure),
		cmocka_unit_test(test_stop_and_start),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_every_transition),
		cmocka_unit_test(test_classes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
