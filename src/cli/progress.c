/* progress.c - see progress.h. */
#include "cli/progress.h"
#include "cli/cli.h"
#include "sched/runner.h"
#include "util/escape.h"

#include <string.h>
#include <unistd.h>

void progress_view_init(struct progress_view *v, FILE *out)
{
	memset(v, 0, sizeof(*v));
	v->out = out;
	v->tty = isatty(fileno(out));
}

void progress_fmt_bytes(unsigned long long b, char *out, size_t size)
{
	if (b >= 1024ull * 1024 * 1024)
		snprintf(out, size, "%.2f GiB", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024ull * 1024)
		snprintf(out, size, "%.1f MiB", b / (1024.0 * 1024));
	else if (b >= 1024)
		snprintf(out, size, "%.1f KiB", b / 1024.0);
	else
		snprintf(out, size, "%llu B", b);
}

void progress_fmt_secs(long s, char *out, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static const char *phase_name(int phase)
{
	switch (phase) {
	case SYNC_PHASE_QUEUED: return "Queued";
	case SYNC_PHASE_CONNECTING: return "Connecting";
	case SYNC_PHASE_LISTING: return "Listing";
	case SYNC_PHASE_COPYING: return "Syncing";
	case SYNC_PHASE_DONE: return "Synced";
	case SYNC_PHASE_FAILED: return "Failed";
	}
	return "?";
}

static void row_line(const struct progress_row *r, time_t now, char *line,
		     size_t size)
{
	unsigned long long total = atomic_load(&r->prog->items_total);
	unsigned long long done = atomic_load(&r->prog->items_done);
	unsigned long long skipped = atomic_load(&r->prog->items_skipped);
	/* the size column counts what user get counts (confirmed copies);
	 * the rate, what went out this run */
	unsigned long long bytes = atomic_load(&r->prog->bytes_synced);
	unsigned long long sent = atomic_load(&r->prog->bytes_done);
	int phase = atomic_load(&r->prog->phase);
	long el = r->started ? (long)(now - r->started) : 0;
	char mb[32], rate[32], eta[32] = "", folder[256], pe[128], pf[96];

	pthread_mutex_lock(&r->prog->lock);
	snprintf(folder, sizeof(folder), "%s", r->prog->folder);
	pthread_mutex_unlock(&r->prog->lock);
	progress_fmt_bytes(bytes, mb, sizeof(mb));
	progress_fmt_bytes(el > 0 ? sent / (unsigned long long)el : 0, rate,
			   sizeof(rate));
	if (phase == SYNC_PHASE_COPYING && el > 2 && done > 0 && total > done) {
		char t[16];
		progress_fmt_secs((long)((double)el * (total - done - skipped) /
					 (done ? done : 1)),
				  t, sizeof(t));
		snprintf(eta, sizeof(eta), " ETA %s", t);
	}
	snprintf(line, size,
		 "  %s %-10s %s %7llu/%-7llu %9s "
		 "%9s/s%s",
		 cli_pad(esc(r->email), 28, pe, sizeof(pe)), phase_name(phase),
		 cli_pad(phase == SYNC_PHASE_COPYING ? esc(folder) : "", 20, pf,
			 sizeof(pf)),
		 done + skipped, total, mb, rate, eta);
}

void progress_view_draw(struct progress_view *v, const char *title,
			const struct progress_row *rows, size_t n, int force)
{
	time_t now = time(NULL);
	unsigned long long bytes = 0, items = 0;
	unsigned synced = 0, failed = 0, active = 0;
	char line[256], mb[32];
	size_t i;

	if (!v->tty && !force && now - v->last_plain < 5)
		return;
	for (i = 0; i < n; i++) {
		bytes += atomic_load(&rows[i].prog->bytes_synced);
		items += atomic_load(&rows[i].prog->items_done);
		if (rows[i].finished == JOB_SYNCED)
			synced++;
		else if (rows[i].finished == JOB_FAILED)
			failed++;
		else if (rows[i].started)
			active++;
	}
	progress_fmt_bytes(bytes, mb, sizeof(mb));
	if (v->tty) {
		unsigned k;
		/* back to the top of what was drawn, then redraw */
		for (k = 0; k < v->drawn; k++)
			fputs("\033[A\033[2K", v->out);
		fprintf(v->out,
			"%s: %zu users, %u syncing, %u synced, %u "
			"failed; %llu items, %s\n",
			title, n, active, synced, failed, items, mb);
		v->drawn = 1;
		for (i = 0; i < n; i++) {
			if (!rows[i].started && rows[i].finished == 0)
				continue;
			row_line(&rows[i], now, line, sizeof(line));
			fprintf(v->out, "%s\n", line);
			v->drawn++;
		}
	} else {
		v->last_plain = now;
		fprintf(v->out,
			"%s: %u syncing, %u synced, %u failed; %llu "
			"items, %s\n",
			title, active, synced, failed, items, mb);
		for (i = 0; i < n; i++) {
			if (!rows[i].started || rows[i].finished)
				continue;
			row_line(&rows[i], now, line, sizeof(line));
			fprintf(v->out, "%s\n", line);
		}
	}
	fflush(v->out);
}
