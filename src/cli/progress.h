/* progress.h - the live view of `imapmig sync`: one line per user being
 * migrated and a batch line on top, redrawn in place on a terminal; plain
 * lines every few seconds when output is not a terminal. */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <stdio.h>
#include <time.h>

#include "sync/mailbox.h"

struct progress_row {
	const char *email;
	struct sync_progress *prog;
	time_t started; /* 0: not started */
	int finished;	/* 1 Synced, -1 Failed, 0 running */
};

struct progress_view {
	FILE *out;
	int tty;
	unsigned drawn; /* lines drawn last time (tty) */
	time_t last_plain;
};

void progress_view_init(struct progress_view *v, FILE *out);
/* Draw the current state; plain mode prints at most every 5 s unless
 * force is set. */
void progress_view_draw(struct progress_view *v, const char *title,
			const struct progress_row *rows, size_t n, int force);
/* Human sizes and durations: "12.3 MB", "1:02:03". */
void progress_fmt_bytes(unsigned long long b, char *out, size_t size);
void progress_fmt_secs(long s, char *out, size_t size);

#endif
