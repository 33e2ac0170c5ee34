/* assets.h - the dashboard's files, embedded in the binary at build time:
 * cmake/web_assets.cmake turns each file of src/web/assets/ into an
 * array (web_assets.c in the build directory), with a content type
 * chosen by its extension.  Nothing is read from disk at run time. */
#ifndef WEB_ASSETS_H
#define WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name; /* file name, e.g. "index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Sorted by name, ended by a zeroed entry; web_assets_n entries. */
extern const struct web_asset web_assets[];
extern const unsigned web_assets_n;

/* The asset of that name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

#endif
