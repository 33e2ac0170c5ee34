/* preview.c - see preview.h. */
#include "sync/preview.h"

#include <stdlib.h>
#include <string.h>

#include "sync/plan.h"
#include "util/xalloc.h"

void preview_report_release(struct preview_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n; i++) {
		if (rep->v[i].dst != rep->v[i].src)
			free(rep->v[i].dst);
		free(rep->v[i].src);
	}
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

static int target_has(const struct store_folder_list *tl, const char *name)
{
	size_t i;

	for (i = 0; i < tl->n; i++)
		if (strcmp(tl->v[i].name, name) == 0)
			return 1;
	return 0;
}

int sync_preview(const struct sync_endpoints *ep,
		 const struct sync_options *opt, struct preview_report *rep,
		 struct err *err)
{
	struct store_folder_list sl = {0}, tl = {0};
	struct store_source *src;
	struct store_target *dst = NULL;
	struct sync_plan plan = {0};
	size_t i;
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	rep->counts_known = 1;
	src = ep->open_source(ep->ctx, err);
	if (src == NULL)
		return -1;
	dst = ep->open_target(ep->ctx, err);
	if (dst == NULL)
		goto out;
	if (src->ops->list(src, &sl, err) < 0 ||
	    dst->ops->list(dst, &tl, err) < 0)
		goto out;
	sync_plan_build(&sl, &tl, dst->ops->delimiter(dst), &opt->include,
			&opt->exclude, &plan);
	rep->v = xcalloc(plan.n + 1, sizeof(*rep->v));
	for (i = 0; i < plan.n; i++) {
		const struct sync_plan_entry *fe = &plan.v[i];
		struct preview_folder *f = &rep->v[rep->n++];
		/* the names move from the listing and the plan to the
		 * report (200,000 folders: no copies) */
		f->src = sl.v[i].name;
		sl.v[i].name = NULL;
		if (fe->dst_owned) {
			f->dst = fe->dst;
			plan.v[i].dst_owned = 0;
		} else {
			f->dst = fe->dst != NULL ? f->src : NULL;
		}
		f->noselect = fe->noselect;
		f->exists = fe->dst != NULL && target_has(&tl, fe->dst);
		f->has_count = fe->has_status;
		f->messages = fe->has_status ? fe->status.messages : 0;
		if (fe->dst == NULL || fe->noselect)
			continue;
		if (fe->has_status)
			rep->messages += fe->status.messages;
		else
			rep->counts_known = 0;
	}
	ret = 0;
out:
	sync_plan_release(&plan);
	store_folder_list_free(&sl);
	store_folder_list_free(&tl);
	store_target_close(&dst);
	store_source_close(&src);
	return ret;
}
