/* fuzz_template.c - libFuzzer target for per-user templates
 * (sched/template.h).
 *
 * Input: byte 0 selects path mode (bit 0); the rest is split at NUL
 * bytes into the template, the address, and up to two CSV columns
 * (name, value).  The expansion is compared with a small reference
 * model written from template.h: the same refusals ('}' without '{', '{'
 * without '}', empty or too long {name}, unknown {name}, and in path mode
 * a value that is "", ".", ".." or holds a '/'), and byte-for-byte the
 * same output.  On success in path mode no substituted value can climb
 * out of its level; on failure the error is ERR_USAGE with a message. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int unsafe(const char *v, size_t n)
{
	return n == 0 || (n == 1 && v[0] == '.') ||
	       (n == 2 && v[0] == '.' && v[1] == '.') || memchr(v, '/', n);
}

/* Reference expansion into out (NUL-terminated, big enough); -1 if the
 * template or a value is refused. */
static int model(const char *t, const char *email, const struct template_var *x,
		 size_t nx, int path, char *out)
{
	const char *at = strrchr(email, '@');
	size_t o = 0;

	while (*t) {
		const char *close, *v;
		char name[200], low[400];
		size_t n, vl, i;

		if ((t[0] == '{' && t[1] == '{') ||
		    (t[0] == '}' && t[1] == '}')) {
			out[o++] = t[0];
			t += 2;
			continue;
		}
		if (*t == '}')
			return -1;
		if (*t != '{') {
			out[o++] = *t++;
			continue;
		}
		close = strchr(t, '}');
		if (close == NULL)
			return -1;
		n = (size_t)(close - t - 1);
		if (n == 0 || n > 127)
			return -1;
		memcpy(name, t + 1, n);
		name[n] = '\0';
		if (strcasecmp(name, "email") == 0) {
			v = email;
			vl = strlen(email);
		} else if (strcasecmp(name, "local") == 0) {
			v = email;
			vl = at ? (size_t)(at - email) : strlen(email);
		} else if (strcasecmp(name, "domain") == 0) {
			const char *d = at ? at + 1 : "";
			for (vl = 0; d[vl]; vl++)
				low[vl] = (char)tolower((unsigned char)d[vl]);
			v = low;
		} else {
			for (i = 0; i < nx; i++)
				if (strcasecmp(x[i].name, name) == 0)
					break;
			if (i == nx)
				return -1;
			v = x[i].value;
			vl = strlen(v);
		}
		if (path && unsafe(v, vl))
			return -1;
		memcpy(out + o, v, vl);
		o += vl;
		t = close + 1;
	}
	out[o] = '\0';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *part[6] = {"", "", "", "", "", ""}, *p, *want;
	struct template_var x[2];
	struct buf out = BUF_INIT;
	struct err err = ERR_INIT;
	size_t np = 0, nx;
	int path, r, m;

	if (size < 1 || size > 400)
		return 0;
	path = data[0] & 1;
	copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (p = copy; np < 6;) {
		part[np++] = p;
		p += strlen(p);
		if (p >= copy + size - 1)
			break;
		p++;
	}
	nx = np > 2 ? (np - 2) / 2 : 0;
	x[0].name = part[2];
	x[0].value = part[3];
	x[1].name = part[4];
	x[1].value = part[5];
	/* a value may be long ({email} many times): bound the model's
	 * output by the template's length times the longest value */
	want = malloc(size * size + 16);
	m = model(part[0], part[1], x, nx, path, want);
	r = template_expand(part[0], part[1], x, nx, path, &out, &err);
	if (r != m)
		abort();
	if (r == 0) {
		if (out.len != strlen(want) || memcmp(out.p, want, out.len))
			abort();
		if (strlen(out.p) != out.len)
			abort();
	} else if (err.cls != ERR_USAGE || err.msg[0] == '\0') {
		abort();
	}
	buf_release(&out);
	free(want);
	free(copy);
	return 0;
}
