/* events.c - GET /api/v1/events: server-sent events. */
#include <stdlib.h>

#include "util/xalloc.h"
#include "web/internal.h"

struct web_events {
	int dummy;
};

struct web_events *web_events_start(struct web *w, struct err *err)
{
	(void)w;
	(void)err;
	return xcalloc(1, sizeof(struct web_events));
}

void web_events_stop(struct web_events **evp)
{
	free(*evp);
	*evp = NULL;
}

enum MHD_Result web_events_serve(struct web *w, struct MHD_Connection *c)
{
	(void)w;
	return web_reply_error(c, 501, "events: not yet");
}
